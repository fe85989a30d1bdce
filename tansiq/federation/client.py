"""Tansiq's own TAXII 2.1 client: what the federation engine uses to talk to a peer.

It works with any conformant server (another Tansiq, OASIS's medallion, vendors' servers)
and copes with the liberties the specification leaves them:

* paging (TAXII 2.1 section 3.5) follows ``next``; a server that answers ``more: true``
  without ``next`` is paged on with ``added_after`` = its ``X-TAXII-Date-Added-Last``
  header; a server that does neither, or that does not move forward, is an error rather
  than an endless loop;
* servers cap pages below the requested ``limit``: the client simply asks again;
* writes (section 5.5) are split into envelopes whose serialized body fits the API root's
  ``max_content_length`` (section 4.2.1); an object too large on its own is reported as a
  failure and not sent; an envelope the server still refuses as a whole (400, 413, 422)
  is split in halves until the offending objects are isolated and reported one by one;
* a ``pending`` status is polled at ``{api-root}/status/{id}/`` (section 4.3) until it is
  ``complete`` or ``poll_timeout`` has passed.

Faults: connection refused or reset, timeouts, 408/429/5xx and 200 answers that are
truncated, invalid JSON or not the expected TAXII resource are *transient*: retried
``retries`` times with exponential backoff and jitter, honouring ``Retry-After``, then
raised as ``PeerError(transient=True)``. Other 4xx answers are raised at once as
``PeerError(transient=False)`` with the server's TAXII error title and description.
Every message is one line naming the method and URL; credentials never appear in a
message, a log line or a ``repr`` (the client also masks them should a server echo them).
Retrying a POST is safe: adding an identical (id, version) is idempotent in TAXII.

Credentials are only ever sent to the origin of the discovery URL or of an API root the
operator named explicitly: a discovery document that points at another server is refused.
"""

from __future__ import annotations

import email.utils
import functools
import logging
import random
import re
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote, urljoin

import httpx
import orjson

from tansiq import __version__
from tansiq.errors import PeerError
from tansiq.federation.messages import (
    Credentials,
    ObjectsPage,
    PostOutcome,
    RemoteCollection,
    check_collection,
    check_collections,
    check_discovery,
    check_envelope,
    check_object,
    check_status,
    describe,
    to_collection,
)

TAXII_21 = "application/taxii+json;version=2.1"
USER_AGENT = f"tansiq/{__version__}"

# Used when an API root does not state a usable max_content_length (the spec requires
# one); a server that then refuses an envelope with 413 gets it in halves.
FALLBACK_MAX_CONTENT_LENGTH = 10 * 1024 * 1024

_ENVELOPE_HEAD = b'{"objects":['
_ENVELOPE_TAIL = b"]}"
_ENVELOPE_OVERHEAD = len(_ENVELOPE_HEAD) + len(_ENVELOPE_TAIL)

# A server may answer ``more: true`` with an empty page (objects deleted meanwhile), but
# not forever.
_MAX_EMPTY_PAGES = 20
# Whole-envelope refusals worth splitting the envelope for (an object inside is at fault).
_SPLIT_ON = frozenset({400, 413, 422})
_RETRY_STATUSES = frozenset({408, 429})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SPACES = re.compile(r"\s+")

log = logging.getLogger(__name__)

__all__ = [
    "Credentials",
    "ObjectsPage",
    "PostOutcome",
    "RemoteCollection",
    "TaxiiClient",
    "parse_retry_after",
]


class _Refused(PeerError):
    """A non-transient HTTP error; ``reason`` is the message without the method and URL."""

    def __init__(self, message: str, reason: str, status: int) -> None:
        super().__init__(message, transient=False, status=status)
        self.reason = reason


# --------------------------------------------------------------------------- helpers


def _one_line(text: str, limit: int = 300) -> str:
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    scheme = url.scheme.lower()
    return scheme, url.host.lower(), url.port or _DEFAULT_PORTS.get(scheme)


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _parse_time(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _is_after(later: str, earlier: str) -> bool:
    """Whether TAXII timestamp ``later`` is strictly after ``earlier`` (any precision)."""
    a, b = _parse_time(later), _parse_time(earlier)
    if a is None or b is None:
        return later != earlier
    return a > b


def parse_retry_after(value: str | None, now: Callable[[], datetime] | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP-date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now() if now else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context per process (building one costs ~20 ms; a sync makes a client
    per peer and run)."""
    return ssl.create_default_context()


def _version_of(obj: Any) -> str:
    if isinstance(obj, dict):
        for key in ("modified", "created"):
            value = obj.get(key)
            if isinstance(value, str):
                return value
    return ""


def _version_key(version: str) -> object:
    """A version comparable across precisions ('...00Z' and '...00.000Z' are equal)."""
    return _parse_time(version) or version


def _detail(obj: Any, message: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else "",
        "version": _version_of(obj),
    }
    if message:
        entry["message"] = message
    return entry


def _envelope_body(raws: Sequence[bytes]) -> bytes:
    return _ENVELOPE_HEAD + b",".join(raws) + _ENVELOPE_TAIL


# --------------------------------------------------------------------------- the client


class TaxiiClient:
    """A synchronous TAXII 2.1 client bound to one server (discovery URL) and API root."""

    def __init__(
        self,
        discovery_url: str,
        credentials: Credentials | None = None,
        *,
        api_root: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        page_limit: int = 1000,
        poll_interval: float = 0.5,
        poll_timeout: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._discovery_url = self._checked_url(discovery_url, "discovery URL")
        self._credentials = credentials or Credentials()
        self._secrets = self._credentials.secrets()
        self._authorization = self._credentials.authorization()
        self._trusted = {_origin(httpx.URL(self._discovery_url))}
        self._api_root_ref = api_root.strip() if api_root and api_root.strip() else None
        if self._api_root_ref and "://" in self._api_root_ref:
            explicit = self._checked_url(self._api_root_ref, "API root URL")
            self._trusted.add(_origin(httpx.URL(explicit)))
        if retries < 0 or page_limit < 1 or timeout <= 0:
            raise PeerError(
                "TAXII client: retries must be >= 0, page_limit >= 1 and timeout > 0",
                transient=False,
            )
        self._timeout = timeout
        self._retries = retries
        self._backoff = max(0.0, backoff)
        self._max_backoff = max(0.0, max_backoff)
        self._page_limit = page_limit
        self._poll_interval = max(0.0, poll_interval)
        self._poll_timeout = max(0.0, poll_timeout)
        self._sleep = sleep
        self._root_url: str | None = None
        self._root_info: dict[str, Any] | None = None
        self._resolved: dict[str, RemoteCollection] = {}
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            verify=_ssl_context(),
            headers={"Accept": TAXII_21, "User-Agent": USER_AGENT},
        )

    # -- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TaxiiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TaxiiClient({self._discovery_url!r}, {self._credentials!r})"

    # -- server information ---------------------------------------------------------

    def discover(self) -> dict[str, Any]:
        """The discovery resource (section 4.1)."""
        data: dict[str, Any] = self._call("GET", self._discovery_url, check_discovery)[0]
        return data

    def api_root_url(self) -> str:
        """The API root this client works with (absolute URL, ending with '/')."""
        if self._root_url is None:
            self._root_url = self._resolve_api_root()
        return self._root_url

    def api_root_information(self) -> dict[str, Any]:
        """The API root resource (section 4.2), fetched once."""
        if self._root_info is None:
            url = self.api_root_url()
            info: dict[str, Any] = self._call("GET", url, check_object)[0]
            versions = info.get("versions")
            if isinstance(versions, list) and versions:
                spoken = {_SPACES.sub("", str(v)).lower() for v in versions}
                if TAXII_21 not in spoken:
                    raise PeerError(
                        f"GET {self._display(url)}: the API root does not speak TAXII 2.1 "
                        f"(versions: {_one_line(', '.join(map(str, versions)), 120)})",
                        transient=False,
                    )
            self._root_info = info
        return self._root_info

    def max_content_length(self) -> int:
        """The API root's max_content_length in bytes (a fallback when it states none)."""
        value = self.api_root_information().get("max_content_length")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        return FALLBACK_MAX_CONTENT_LENGTH

    # -- collections ----------------------------------------------------------------

    def collections(self) -> list[RemoteCollection]:
        url = self.api_root_url() + "collections/"
        data = self._call("GET", url, check_collections)[0]
        return [to_collection(item) for item in data.get("collections", [])]

    def resolve_collection(self, ref: str) -> RemoteCollection:
        """The collection whose id, else alias, else title is ``ref`` (asked once per
        client: a sync's pull and push of one collection share the answer)."""
        if ref not in self._resolved:
            self._resolved[ref] = self._resolve_collection(ref)
        return self._resolved[ref]

    def _resolve_collection(self, ref: str) -> RemoteCollection:
        found = self.collections()
        for attribute in ("id", "alias", "title"):
            matches = [c for c in found if getattr(c, attribute) == ref]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise PeerError(
                    f"{len(matches)} collections of {self._display(self.api_root_url())} have "
                    f"the {attribute} '{ref}'; name one by id: {describe(matches)}",
                    transient=False,
                )
        # a collection a server does not list (write-only, say) may still answer by id
        if ref and "/" not in ref and ref not in (".", ".."):
            url = f"{self.api_root_url()}collections/{quote(ref, safe='')}/"
            try:
                data = self._call("GET", url, check_collection)[0]
            except PeerError as exc:
                if exc.transient or exc.status not in (403, 404):
                    raise
            else:
                return to_collection(data)
        raise PeerError(
            f"no collection '{ref}' on {self._display(self.api_root_url())}; "
            f"available: {describe(found)}",
            transient=False,
        )

    # -- reading --------------------------------------------------------------------

    def get_objects(
        self,
        collection_id: str,
        *,
        added_after: str | None = None,
        next: str | None = None,
        limit: int | None = None,
        versions: str = "all",
    ) -> ObjectsPage:
        """One page of Get Objects (section 5.4); ``versions`` is ``match[version]``."""
        params: list[tuple[str, str]] = []
        if added_after:
            params.append(("added_after", added_after))
        params.append(("limit", str(limit or self._page_limit)))
        if versions:
            params.append(("match[version]", versions))
        if next:
            params.append(("next", next))
        url = self._objects_url(collection_id)
        data, response = self._call("GET", url, check_envelope, params=params)
        nxt = data.get("next")
        return ObjectsPage(
            objects=data.get("objects", []),
            more=data.get("more", False),
            next=str(nxt) if nxt not in (None, "") else None,
            date_added_first=response.headers.get("X-TAXII-Date-Added-First") or None,
            date_added_last=response.headers.get("X-TAXII-Date-Added-Last") or None,
        )

    def iter_pages(
        self, collection_id: str, *, added_after: str | None = None, limit: int | None = None
    ) -> Iterator[ObjectsPage]:
        """Every page of a collection after ``added_after``, all versions, oldest first.

        Follows ``next``; when a server answers ``more: true`` without ``next``, pages on
        with ``added_after`` = its ``X-TAXII-Date-Added-Last`` (section 3.5). Pages are
        yielded as they arrive (an empty one included), so that the caller can commit each
        before asking for the next.
        """
        query_after = added_after
        page = self.get_objects(collection_id, added_after=query_after, limit=limit)
        yield page
        sent_next: str | None = None
        empty_run = 0
        while page.more:
            where = self._display(self._objects_url(collection_id))
            empty_run = 0 if page.objects else empty_run + 1
            if empty_run > _MAX_EMPTY_PAGES:
                raise PeerError(
                    f"GET {where}: the server answered {empty_run} empty pages in a row "
                    "with more=true; giving up rather than loop",
                    transient=False,
                )
            if page.next:
                if not page.objects and page.next == sent_next:
                    raise PeerError(
                        f"GET {where}: the server answered an empty page with more=true and "
                        "the same 'next' it was given; paging makes no progress",
                        transient=False,
                    )
                sent_next = page.next
                page = self.get_objects(
                    collection_id, added_after=query_after, next=page.next, limit=limit
                )
            else:
                last = page.date_added_last
                if not last:
                    raise PeerError(
                        f"GET {where}: the server answered more=true without 'next' nor an "
                        "X-TAXII-Date-Added-Last header; there is no way to ask for the "
                        "rest (TAXII 2.1 section 3.5)",
                        transient=False,
                    )
                if query_after is not None and not _is_after(last, query_after):
                    raise PeerError(
                        f"GET {where}: the server answered more=true without 'next' and with "
                        f"X-TAXII-Date-Added-Last {last}, not after added_after "
                        f"{query_after}; paging makes no progress",
                        transient=False,
                    )
                query_after = last
                sent_next = None
                page = self.get_objects(collection_id, added_after=query_after, limit=limit)
            yield page

    # -- writing --------------------------------------------------------------------

    def add_objects(self, collection_id: str, objects: Sequence[dict[str, Any]]) -> PostOutcome:
        """Add Objects (section 5.5) in envelopes that fit the peer's max_content_length,
        following each status to the end; the outcomes of every envelope merged."""
        successes: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        pendings: list[dict[str, Any]] = []
        status_id: str | None = None
        if not objects:
            return PostOutcome(None, 0, successes, failures, pendings)
        url = self._objects_url(collection_id)
        limit = self.max_content_length()
        fitting: list[tuple[dict[str, Any], bytes]] = []
        for obj in objects:
            try:
                raw = orjson.dumps(obj)
            except (orjson.JSONEncodeError, TypeError) as exc:
                failures.append(_detail(obj, f"cannot be serialized as JSON: {exc}; not sent"))
                continue
            if _ENVELOPE_OVERHEAD + len(raw) > limit:
                failures.append(
                    _detail(
                        obj,
                        f"object of {len(raw)} bytes is larger than the peer's "
                        f"max_content_length ({limit} bytes); not sent",
                    )
                )
                continue
            fitting.append((obj, raw))

        queue: deque[list[tuple[dict[str, Any], bytes]]] = deque(self._pack(fitting, limit))
        while queue:
            chunk = queue.popleft()
            body = _envelope_body([raw for _, raw in chunk])
            try:
                status = self._call("POST", url, check_status, body=body)[0]
            except _Refused as exc:
                if exc.status not in _SPLIT_ON:
                    raise
                if len(chunk) > 1:  # isolate the object(s) at fault
                    half = len(chunk) // 2
                    queue.appendleft(chunk[half:])
                    queue.appendleft(chunk[:half])
                    continue
                failures.append(_detail(chunk[0][0], f"refused by the peer: {exc.reason}"))
                continue
            status = self._follow(status)
            if isinstance(status.get("id"), str) and status["id"]:
                status_id = status["id"]
            self._merge(status, [obj for obj, _ in chunk], successes, failures, pendings)
        return PostOutcome(status_id, len(objects), successes, failures, pendings)

    @staticmethod
    def _pack(
        items: list[tuple[dict[str, Any], bytes]], limit: int
    ) -> list[list[tuple[dict[str, Any], bytes]]]:
        """Greedy envelopes whose serialized body is at most ``limit`` bytes."""
        batches: list[list[tuple[dict[str, Any], bytes]]] = []
        batch: list[tuple[dict[str, Any], bytes]] = []
        size = _ENVELOPE_OVERHEAD
        for item in items:
            extra = len(item[1]) + (1 if batch else 0)  # the comma
            if batch and size + extra > limit:
                batches.append(batch)
                batch, size, extra = [], _ENVELOPE_OVERHEAD, len(item[1])
            batch.append(item)
            size += extra
        if batch:
            batches.append(batch)
        return batches

    def _follow(self, status: dict[str, Any]) -> dict[str, Any]:
        """Poll a pending status until complete, poll_timeout, or the status vanishes."""
        waited = 0.0
        interval = self._poll_interval
        deadline = time.monotonic() + self._poll_timeout
        while status.get("status") == "pending":
            status_id = status.get("id")
            if not isinstance(status_id, str) or not status_id:
                break  # nothing to poll
            if waited >= self._poll_timeout or time.monotonic() >= deadline:
                break
            self._sleep(interval)
            waited += interval
            interval = min(interval * 1.5, max(self._poll_interval, self._max_backoff))
            url = f"{self.api_root_url()}status/{quote(status_id, safe='')}/"
            try:
                status = self._call("GET", url, check_status)[0]
            except _Refused as exc:
                if exc.status == 404:  # expired or forgotten: the outcome stays unknown
                    break
                raise
        return status

    def _merge(
        self,
        status: dict[str, Any],
        sent: list[dict[str, Any]],
        successes: list[dict[str, Any]],
        failures: list[dict[str, Any]],
        pendings: list[dict[str, Any]],
    ) -> None:
        complete = status.get("status") == "complete"
        listed = {
            key: [d for d in status.get(key) or [] if isinstance(d, dict)]
            for key in ("successes", "failures", "pendings")
        }
        successes.extend(listed["successes"])
        failures.extend(listed["failures"])
        if complete:  # "complete" with leftovers: they will not be processed any more
            failures.extend(
                {**d, "message": d.get("message") or "still pending when the peer completed"}
                for d in listed["pendings"]
            )
        else:
            pendings.extend(listed["pendings"])

        named_versions: set[tuple[str, object]] = set()
        named_ids: set[str] = set()  # named without a version
        any_named: set[str] = set()
        for entries in listed.values():
            for d in entries:
                if isinstance(d.get("id"), str):
                    any_named.add(d["id"])
                    if isinstance(d.get("version"), str) and d["version"]:
                        named_versions.add((d["id"], _version_key(d["version"])))
                    else:
                        named_ids.add(d["id"])

        def named(obj: dict[str, Any]) -> bool:
            version = _version_of(obj)
            if not version:  # an SCO: the peer names it with a version of its own
                return obj.get("id") in any_named
            return (obj.get("id"), _version_key(version)) in named_versions or obj.get(
                "id"
            ) in named_ids

        unnamed = [obj for obj in sent if not named(obj)]
        if not unnamed:
            return
        if not complete:
            pendings.extend(
                _detail(o, f"no final status from the peer within {self._poll_timeout:g} s")
                for o in unnamed
            )
            return
        count = status.get("failure_count")
        unexplained = (count if isinstance(count, int) else 0) - len(listed["failures"])
        if unexplained > 0:
            failures.extend(
                _detail(o, f"the peer counted {unexplained} failures without naming them")
                for o in unnamed
            )
        else:
            successes.extend(_detail(o) for o in unnamed)

    # -- URLs -----------------------------------------------------------------------

    def _objects_url(self, collection_id: str) -> str:
        return f"{self.api_root_url()}collections/{quote(collection_id, safe='')}/objects/"

    def _checked_url(self, url: str, what: str) -> str:
        try:
            parsed = httpx.URL(url.strip())
        except httpx.InvalidURL as exc:
            raise PeerError(f"invalid {what}: {exc}", transient=False) from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise PeerError(
                f"invalid {what} '{_one_line(url, 200)}': use an absolute http(s) URL",
                transient=False,
            )
        if parsed.userinfo:
            raise PeerError(
                f"the {what} contains a user name or password: give credentials separately",
                transient=False,
            )
        if parsed.query:
            raise PeerError(f"the {what} must not have a query string", transient=False)
        return _with_slash(str(parsed))

    def _resolve_api_root(self) -> str:
        ref = self._api_root_ref
        if ref is not None:
            if "://" in ref:
                return self._checked_url(ref, "API root URL")
            # a name or a path: resolved against the server of the discovery URL
            return _with_slash(urljoin(self._discovery_url, "/" + ref.strip("/") + "/"))
        data = self.discover()
        where = self._display(self._discovery_url)
        roots = [r for r in data.get("api_roots") or [] if r]
        default = data.get("default")
        if default:
            chosen = default
        elif len(roots) == 1:
            chosen = roots[0]
        elif not roots:
            raise PeerError(
                f"GET {where}: the server lists no API root (none visible with these "
                "credentials?); name one explicitly",
                transient=False,
            )
        else:
            raise PeerError(
                f"GET {where}: the server lists {len(roots)} API roots and no default; "
                f"choose one explicitly: {', '.join(_one_line(r, 120) for r in roots[:20])}",
                transient=False,
            )
        url = urljoin(self._discovery_url, chosen)
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise PeerError(f"GET {where}: invalid API root URL: {exc}", transient=False) from exc
        if parsed.scheme not in ("http", "https") or parsed.userinfo or parsed.query:
            raise PeerError(
                f"GET {where}: the API root '{_one_line(chosen, 120)}' is not a usable URL",
                transient=False,
            )
        if self._authorization and _origin(parsed) not in self._trusted:
            raise PeerError(
                f"GET {where}: the API root {self._display(url)} is on another server; "
                "name it explicitly to trust that server with the credentials",
                transient=False,
            )
        return _with_slash(str(parsed))

    def _display(self, url: str | httpx.URL, params: Any = None) -> str:
        target = httpx.URL(url) if params is None else httpx.URL(url, params=params)
        if target.userinfo:
            target = target.copy_with(username=None, password=None)
        return self._scrub(str(target))

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "<hidden>")
        return text

    # -- HTTP -----------------------------------------------------------------------

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self._max_backoff, retry_after)
        base = min(self._max_backoff, self._backoff * 2**attempt)
        return random.uniform(base / 2, base)

    def _call(
        self,
        method: str,
        url: str,
        check: Callable[[Any], str | None],
        *,
        params: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> tuple[dict[str, Any], httpx.Response]:
        """One TAXII request with retries; the parsed 2xx body and the response."""
        target = httpx.URL(url)
        headers: dict[str, str] = {}
        if self._authorization and _origin(target) in self._trusted:
            headers["Authorization"] = self._authorization
        if body is not None:
            headers["Content-Type"] = TAXII_21
        where = f"{method} {self._display(url, params)}"
        attempts = self._retries + 1
        failure = "no attempt made"
        status: int | None = None
        retry_after: float | None = None
        for attempt in range(attempts):
            status, retry_after = None, None
            try:
                response = self._http.request(
                    method,
                    url,
                    params=tuple(params) if params else None,
                    content=body,
                    headers=headers,
                    follow_redirects=method == "GET",
                )
            except httpx.TimeoutException as exc:
                failure = f"timed out after {self._timeout:g} s ({type(exc).__name__})"
            except httpx.UnsupportedProtocol as exc:
                raise PeerError(f"{where}: {_one_line(str(exc))}", transient=False) from exc
            except httpx.TransportError as exc:
                failure = self._transport_failure(exc)
            except httpx.TooManyRedirects as exc:
                raise PeerError(f"{where}: too many redirects", transient=False) from exc
            except httpx.RequestError as exc:  # e.g. a body that cannot be decoded
                failure = f"bad answer ({type(exc).__name__}): {_one_line(str(exc), 200)}"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    try:
                        data = orjson.loads(response.content)
                    except orjson.JSONDecodeError as exc:
                        failure = (
                            f"HTTP {status} with a body that is not valid JSON "
                            f"({len(response.content)} bytes: {_one_line(str(exc), 120)})"
                        )
                    else:
                        problem = check(data)
                        if problem is None:
                            return data, response
                        failure = f"HTTP {status} with a body that is not the expected TAXII resource: {problem}"
                elif status >= 500 or status in _RETRY_STATUSES:
                    failure = f"HTTP {status} {response.reason_phrase}{self._error_text(response)}"
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                else:
                    reason = f"HTTP {status} {response.reason_phrase}{self._error_text(response)}"
                    if 300 <= status < 400 and response.headers.get("Location"):
                        location = self._display(urljoin(url, response.headers["Location"]))
                        reason += f" (redirected to {location})"
                    reason = self._scrub(reason)
                    raise _Refused(f"{where}: {reason}", reason, status)
            if attempt + 1 < attempts:
                delay = self._delay(attempt, retry_after)
                log.warning(
                    "%s: %s; retrying in %.2f s (attempt %d of %d)",
                    where,
                    self._scrub(failure),
                    delay,
                    attempt + 2,
                    attempts,
                )
                self._sleep(delay)
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        raise PeerError(
            self._scrub(f"{where}: {failure} (gave up after {tries})"),
            transient=True,
            retry_after=retry_after,
            status=status,
        )

    @staticmethod
    def _transport_failure(exc: httpx.TransportError) -> str:
        text = _one_line(str(exc), 200) or type(exc).__name__
        if isinstance(exc, httpx.ConnectError):
            return f"cannot connect: {text}"
        if isinstance(exc, httpx.RemoteProtocolError):
            return f"connection broken (truncated or malformed answer): {text}"
        if isinstance(exc, httpx.ReadError | httpx.WriteError):
            return f"connection reset: {text}"
        return f"network error ({type(exc).__name__}): {text}"

    def _error_text(self, response: httpx.Response) -> str:
        """': title: description' of a TAXII error body (section 3.6.1), if any."""
        try:
            data = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return ""
        if not isinstance(data, dict):
            return ""
        parts = [
            _one_line(str(data[key]), 200)
            for key in ("title", "description")
            if isinstance(data.get(key), str) and data[key].strip()
        ]
        return ": " + ": ".join(parts) if parts else ""
