"""Checking a whole payload: a bundle, a TAXII envelope, a list or one object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import StixError
from .validate import check_object
from .versioning import version_of

__all__ = ["CheckResult", "check_bundle", "objects_of"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Outcome for one object of a payload, in payload order.

    ``obj`` is the normalised 2.1 object when valid (``error`` is then None);
    ``object_id`` is the object's id (as given, or as computed for an SCO), when any.
    """

    index: int
    object_id: str | None
    version: str | None
    obj: dict[str, Any] | None
    error: StixError | None

    @property
    def ok(self) -> bool:
        return self.error is None


def objects_of(data: Any) -> list[Any]:
    """The list of objects carried by a bundle, TAXII envelope, JSON list or single object."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        kind = data.get("type")
        if kind == "bundle" or (kind is None and "objects" in data):
            objects = data.get("objects", [])
            if not isinstance(objects, list):
                where = data.get("id") if isinstance(data.get("id"), str) else None
                raise StixError(where, "objects", "must be a list of STIX objects")
            return objects
        return [data]
    raise StixError(
        None,
        None,
        'expected a STIX bundle, a TAXII envelope ({"objects": [...]}), a list of STIX '
        "objects or a single STIX object",
    )


def check_bundle(data: Any, *, strict_sco_ids: bool = True) -> list[CheckResult]:
    """Check every object of a payload; one invalid object never hides the valid ones.

    ``strict_sco_ids`` is passed to :func:`~tansiq.stix.validate.check_object`.
    """
    results: list[CheckResult] = []
    for i, raw in enumerate(objects_of(data)):
        try:
            obj = check_object(raw, strict_sco_ids=strict_sco_ids)
        except StixError as e:
            rid = raw.get("id") if isinstance(raw, dict) else None
            results.append(CheckResult(i, rid if isinstance(rid, str) else None, None, None, e))
            continue
        results.append(CheckResult(i, obj.get("id"), version_of(obj), obj, None))
    return results
