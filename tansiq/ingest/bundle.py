"""Validate STIX content and write it to a collection, object by object.

One invalid object never loses the valid ones: every object gets its own
:class:`~tansiq.storage.base.WriteResult` (added, unchanged, conflict or invalid).
Large files are streamed so that memory stays flat whatever their size.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from tansiq.access.policy import WriterContext, tlp_level
from tansiq.errors import InvalidInput, StixError
from tansiq.stix.validate import check_object
from tansiq.stix.versioning import version_of
from tansiq.storage.base import Access, AuditEvent, NewVersion, Principal, Store, WriteResult
from tansiq.storage.identity import sorted_json_hash

BATCH = 2000
STREAM_ABOVE = 4 * 1024 * 1024  # bytes: files larger than this are parsed as a stream


def top_level_objects(data: Any) -> list[Any]:
    """The objects of a bundle, a TAXII envelope, a JSON list or a single object."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if data.get("type") == "bundle":
            objects = data.get("objects", [])
            if not isinstance(objects, list):
                raise InvalidInput("bundle property 'objects' must be a list")
            return objects
        if "type" not in data and "objects" in data:
            objects = data["objects"]
            if not isinstance(objects, list):
                raise InvalidInput("envelope property 'objects' must be a list")
            return objects
        if "type" in data:
            return [data]
        if not data:
            return []
    raise InvalidInput(
        "expected a STIX bundle, a TAXII envelope, a list of objects or a single STIX object"
    )


def prepare(
    objects: Iterable[Any], start: int = 0, writer: WriterContext | None = None
) -> tuple[list[NewVersion], list[WriteResult]]:
    """Validate and normalise objects and apply the writer's creator and RED-recipient
    rules; returns (valid versions, failures), indexed from ``start``."""
    ok: list[NewVersion] = []
    bad: list[WriteResult] = []
    dumps = orjson.dumps
    for index, raw in enumerate(objects, start):
        recipients: tuple[int, ...] = ()
        try:
            obj = check_object(raw)
            if writer is not None:
                obj, recipients = writer.apply(obj)
        except StixError as exc:
            raw_id = raw.get("id") if isinstance(raw, dict) else None
            bad.append(
                WriteResult(
                    index,
                    raw_id if isinstance(raw_id, str) else None,
                    _raw_version(raw),
                    "invalid",
                    str(exc),
                )
            )
            continue
        try:
            body = dumps(obj, option=orjson.OPT_SORT_KEYS)
        except (orjson.JSONEncodeError, TypeError) as exc:
            bad.append(
                WriteResult(
                    index,
                    obj.get("id"),
                    _raw_version(obj),
                    "invalid",
                    f"{obj.get('id')}: cannot be stored: {exc} (JSON nested too deeply?)",
                )
            )
            continue
        markings = obj.get("object_marking_refs") or ()
        ok.append(
            NewVersion(
                obj=obj,
                json=body,
                id=obj["id"],
                type=obj["type"],
                version=version_of(obj),
                spec_version=obj.get("spec_version", "2.1"),
                created_by=obj.get("created_by_ref"),
                markings=tuple(markings),
                index=index,
                hash=sorted_json_hash(body),
                tlp=tlp_level(obj),
                recipients=recipients,
            )
        )
    return ok, bad


def _raw_version(raw: Any) -> str | None:
    if not isinstance(raw, dict):
        return None
    value = raw.get("modified") or raw.get("created")
    return value if isinstance(value, str) else None


def write_objects(
    store: Store,
    collection_id: str,
    principal: Principal,
    objects: Iterable[Any],
    *,
    start: int = 0,
    peer: str | None = None,
    writer: WriterContext | None = None,
    access: Access | None = None,
    audit: AuditEvent | None = None,
) -> list[WriteResult]:
    """Validate and write objects; one result per object, in input order.

    ``writer`` applies the creator rules, ``access`` is the writer's view of the
    collection (what it may know exists), ``audit`` the audit entry to record with it.
    """
    valid, failures = prepare(objects, start, writer)
    return write_prepared(store, collection_id, principal, valid, failures, peer, access, audit)


def write_prepared(
    store: Store,
    collection_id: str,
    principal: Principal,
    valid: list[NewVersion],
    failures: list[WriteResult],
    peer: str | None,
    access: Access | None,
    audit: AuditEvent | None,
) -> list[WriteResult]:
    if audit is not None and failures:
        invalid = [[f.id, f.version] for f in failures]
        audit = replace(audit, detail={**audit.detail, "invalid": invalid})
    written = store.write_versions(
        collection_id, valid, writer=principal, peer=peer, access=access, audit=audit
    )
    results = written + failures
    results.sort(key=lambda r: r.index)
    return results


@dataclass(frozen=True)
class WriteOptions:
    """How a bulk write is checked and recorded (see :func:`write_objects`)."""

    writer: WriterContext | None = None
    access: Access | None = None
    audit: AuditEvent | None = None
    peer: str | None = None


@dataclass
class ImportReport:
    total: int = 0
    added: int = 0
    unchanged: int = 0
    conflicts: int = 0
    invalid: int = 0
    failures: list[WriteResult] = field(default_factory=list)

    def count(self, results: Iterable[WriteResult], keep_failures: int = 1000) -> None:
        for r in results:
            self.total += 1
            if r.outcome == "added":
                self.added += 1
            elif r.outcome == "unchanged":
                self.unchanged += 1
            else:
                if r.outcome == "conflict":
                    self.conflicts += 1
                else:
                    self.invalid += 1
                if len(self.failures) < keep_failures:
                    self.failures.append(r)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "added": self.added,
            "unchanged": self.unchanged,
            "conflicts": self.conflicts,
            "invalid": self.invalid,
            "failures": [
                {
                    "index": f.index,
                    "id": f.id,
                    "version": f.version,
                    "outcome": f.outcome,
                    "message": f.message,
                }
                for f in self.failures
            ],
        }


def read_objects(path: Path) -> Iterator[Any]:
    """Yield the objects of a JSON file: small files parsed whole, large ones streamed."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise InvalidInput(f"{path}: no such file") from exc
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read ({exc.strerror})") from exc
    if path.is_dir():
        raise InvalidInput(f"{path}: is a directory, not a JSON file")
    if size <= STREAM_ABOVE:
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"{path}: invalid JSON ({exc})") from exc
        try:
            yield from top_level_objects(data)
        except InvalidInput as exc:
            raise InvalidInput(f"{path}: {exc}") from exc
        return
    yield from _stream_objects(path)


def _stream_objects(path: Path) -> Iterator[Any]:
    import ijson

    with path.open("rb") as fh:
        head = fh.read(4096).lstrip()
        fh.seek(0)
        prefix = "item" if head.startswith(b"[") else "objects.item"
        try:
            yield from ijson.items(fh, prefix, use_float=True)
        except ijson.JSONError as exc:
            reason = exc.args[0] if exc.args else exc
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            raise InvalidInput(f"{path}: invalid JSON ({str(reason).splitlines()[0]})") from exc


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector during a bulk import.

    Imports allocate millions of small acyclic objects; CPython's generational collector
    would otherwise rescan them over and over (measured: ~40% of import time). Reference
    counting still frees everything; the collector runs once at the end.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def import_file(
    store: Store,
    collection_id: str,
    principal: Principal,
    path: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    report: ImportReport | None = None,
    parallel: bool = True,
    options: WriteOptions | None = None,
) -> ImportReport:
    """Import one file (bundle, envelope, list or object, STIX 2.0 or 2.1) in batches.

    ``progress(objects_done, 0)`` is called after each batch. Large files are read and
    validated in a second process while this one writes (``parallel``), so that the two
    halves of the work use both cores.
    """
    report = report or ImportReport()
    path = Path(path)
    opts = options or WriteOptions()
    with gc_paused():
        if parallel and _worth_parallel(path):
            from tansiq.ingest.pipeline import import_parallel

            import_parallel(store, collection_id, principal, path, progress, report, opts)
        else:
            _import_file(store, collection_id, principal, path, progress, report, opts)
    return report


PARALLEL_ABOVE = 4 * 1024 * 1024  # bytes


def _worth_parallel(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > PARALLEL_ABOVE
    except OSError:
        return False


def _import_file(
    store: Store,
    collection_id: str,
    principal: Principal,
    path: Path,
    progress: Callable[[int, int], None] | None,
    report: ImportReport,
    opts: WriteOptions,
) -> None:
    def write(batch: list[Any], index: int) -> list[WriteResult]:
        return write_objects(
            store,
            collection_id,
            principal,
            batch,
            start=index,
            peer=opts.peer,
            writer=opts.writer,
            access=opts.access,
            audit=opts.audit,
        )

    batch: list[Any] = []
    index = 0
    for obj in read_objects(path):
        batch.append(obj)
        if len(batch) >= BATCH:
            report.count(write(batch, index))
            index += len(batch)
            batch = []
            if progress:
                progress(index, 0)
    if batch:
        report.count(write(batch, index))
        index += len(batch)
        if progress:
            progress(index, 0)
