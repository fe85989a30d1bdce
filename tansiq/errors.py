"""The one exception hierarchy of Tansiq.

Every error a user can cause derives from :class:`TansiqError`. The HTTP adapter turns
each into a TAXII error body with ``http_status``; the CLI prints ``str(error)`` on one
line and exits with code 1.

    TansiqError
    ├── InvalidInput            bad request: malformed JSON, bad filter, bad argument (400)
    │   ├── StixError           an object breaks a STIX 2.1 rule (names object, property, reason) (422)
    │   └── PayloadTooLarge     body above max_content_length (413)
    ├── NotFound                unknown or hidden resource (404)
    ├── Conflict                a different body under an existing (id, version) (422)
    ├── AuthenticationError     missing or bad credentials (401)
    ├── PermissionDenied        authenticated but not allowed (403)
    ├── NotAcceptable           Accept header names no media type we serve (406)
    ├── UnsupportedMediaType    Content-Type we do not take (415)
    ├── ConfigurationError      bad settings, database not initialised, ...
    └── PeerError               a federation peer failed (unreachable, 5xx, 429, bad answer)
"""

from __future__ import annotations


class TansiqError(Exception):
    """Base class of every error Tansiq raises on purpose."""

    http_status = 500
    title = "Internal error"

    def __init__(self, message: str, *, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInput(TansiqError):
    http_status = 400
    title = "Bad request"


class StixError(InvalidInput):
    """An object breaks a STIX 2.1 rule. ``object_id``/``prop`` name where, ``reason`` why."""

    http_status = 422
    title = "Invalid STIX content"

    def __init__(self, object_id: str | None, prop: str | None, reason: str) -> None:
        where = object_id or "<object without id>"
        if prop:
            where = f"{where}: property '{prop}'"
        super().__init__(f"{where}: {reason}")
        self.object_id = object_id
        self.prop = prop
        self.reason = reason


class PayloadTooLarge(InvalidInput):
    http_status = 413
    title = "Payload too large"


class NotFound(TansiqError):
    http_status = 404
    title = "Not found"


class Conflict(TansiqError):
    http_status = 422
    title = "Version conflict"


class AuthenticationError(TansiqError):
    http_status = 401
    title = "Authentication required"


class PermissionDenied(TansiqError):
    http_status = 403
    title = "Forbidden"


class NotAcceptable(TansiqError):
    http_status = 406
    title = "Not acceptable"


class UnsupportedMediaType(TansiqError):
    http_status = 415
    title = "Unsupported media type"


class ConfigurationError(TansiqError):
    http_status = 500
    title = "Configuration error"


class PeerError(TansiqError):
    """A partner TAXII server failed or answered something unusable.

    ``transient`` errors (unreachable, timeout, 5xx, 429, truncated or invalid JSON) are
    worth retrying later, after ``retry_after`` seconds when the peer said so;
    the others (401, 403, 404, a protocol violation) need an operator.
    """

    http_status = 502
    title = "Peer error"

    def __init__(
        self,
        message: str,
        *,
        transient: bool = True,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after
        self.status = status
