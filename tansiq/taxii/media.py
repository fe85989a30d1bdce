"""TAXII 2.1 media types and Accept / Content-Type negotiation."""

from __future__ import annotations

from tansiq.errors import NotAcceptable, UnsupportedMediaType

TAXII_21 = "application/taxii+json;version=2.1"
STIX_21 = "application/stix+json;version=2.1"


def _parse(value: str) -> tuple[str, dict[str, str]]:
    main, *params = value.split(";")
    parsed: dict[str, str] = {}
    for p in params:
        key, _, val = p.partition("=")
        if key.strip():
            parsed[key.strip().lower()] = val.strip().strip('"')
    return main.strip().lower(), parsed


def _is_taxii21(main: str, params: dict[str, str]) -> bool:
    return main == "application/taxii+json" and params.get("version", "2.1") == "2.1"


def check_accept(accept: str | None) -> None:
    """406 unless the Accept header admits the TAXII 2.1 media type (absent admits all)."""
    if accept is None or not accept.strip():
        return
    for item in accept.split(","):
        main, params = _parse(item)
        if params.get("q") in ("0", "0.0", "0.00", "0.000"):
            continue
        if main in ("*/*", "application/*") or _is_taxii21(main, params):
            return
    raise NotAcceptable(
        f"this server answers only with media type {TAXII_21}; the Accept header '{accept}' "
        "does not include it"
    )


def check_content_type(content_type: str | None) -> None:
    """415 unless the request body is declared as TAXII 2.1 JSON."""
    if content_type is None or not content_type.strip():
        raise UnsupportedMediaType(f"the request needs the Content-Type header {TAXII_21}")
    main, params = _parse(content_type)
    if not _is_taxii21(main, params):
        raise UnsupportedMediaType(
            f"Content-Type '{content_type}' is not supported; send {TAXII_21}"
        )
