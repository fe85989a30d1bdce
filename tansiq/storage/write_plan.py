"""What a write (or a delete) does, decided once for every backend.

Given the versions already stored for the ids of a batch (and which of them the writer
may know about), :func:`plan_writes` decides each input's outcome — added, unchanged,
conflict or denied (creator rule) — the new rows with their first/last flags, the flags to
clear on stored rows, the conflicts to log and the TLP:RED recipients to record. The
backends only fetch the known versions, assign seq and date_added under their writer
lock, and apply the plan with their own bulk-insert path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tansiq.stix.timestamps import compare_key
from tansiq.storage.base import NewVersion, Principal, VersionFilter, WriteResult

#: Column order of the rows in a plan (and of the backends' object inserts).
ROW_COLUMNS = (
    "seq, collection_id, id, type, version, vkey, spec_version, date_added, created_by, "
    "markings, writer_user_id, writer_org_id, peer, tlp, creator_org_id, is_first, is_last, "
    "body_hash, json"
)
_FIRST, _LAST = 15, 16  # positions of is_first / is_last in a row

# a known version: [vkey, hash, seq, is_first, is_last, version text, created_by, known to writer]
Known = dict[str, list[list[Any]]]


@dataclass
class WritePlan:
    results: list[WriteResult] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    clear_last: list[int] = field(default_factory=list)  # seqs of stored rows
    clear_first: list[int] = field(default_factory=list)
    conflicts: list[tuple[Any, ...]] = field(default_factory=list)
    recipients: list[tuple[int, int]] = field(default_factory=list)  # (seq, user id)

    @property
    def mixed_spec(self) -> bool:
        return any(r[6] != "2.1" for r in self.rows)


def plan_writes(
    collection_id: str,
    chunk: Sequence[NewVersion],
    hashes: Sequence[bytes],
    stamps: Sequence[str],
    known: Known,
    first_seq: int,
    *,
    writer: Principal,
    peer: str | None,
    local_orgs: dict[str, int],
    now: str,
) -> WritePlan:
    """Decide a batch. ``known`` is updated with the new rows (so later inputs of the same
    batch see earlier ones); ``stamps`` are the date_added values, one per input."""
    writer_user = writer.user.id if writer.user else None
    writer_org = writer.org.id if writer.org else None
    # partner content (a sync account's POST, a federation pull) is kept as it is
    sync = peer is not None or (writer.user is not None and writer.user.role == "sync")
    plan = WritePlan()
    pending: dict[int, list[Any]] = {}  # seq -> new row, while its flags may still change
    seq = first_seq
    for nv, stamp, h in zip(chunk, stamps, hashes, strict=True):
        entries = known.setdefault(nv.id, [])
        if nv.version is None:
            same = next((e for e in entries if e[7] and e[1] == h), None)
            if same is not None:
                plan.results.append(WriteResult(nv.index, nv.id, same[5], "unchanged"))
                continue
            version_text = stamp
            vkey = compare_key(stamp)
        else:
            version_text = nv.version
            vkey = compare_key(nv.version)
            same_version = [e for e in entries if e[7] and e[0] == vkey]
            if same_version:
                if any(e[1] == h for e in same_version):
                    plan.results.append(WriteResult(nv.index, nv.id, nv.version, "unchanged"))
                else:
                    plan.conflicts.append(
                        (now, collection_id, nv.id, nv.version, writer_user, peer, nv.json)
                    )
                    plan.results.append(
                        WriteResult(
                            nv.index,
                            nv.id,
                            nv.version,
                            "conflict",
                            f"{nv.id} version {nv.version} already exists with a different "
                            "body; a new version needs a new 'modified' timestamp",
                        )
                    )
                continue
            if not sync:
                other = next((e for e in entries if e[7] and e[6] != nv.created_by), None)
                if other is not None:
                    plan.results.append(
                        WriteResult(
                            nv.index,
                            nv.id,
                            nv.version,
                            "denied",
                            f"{nv.id}: created_by_ref must stay {other[6] or '(absent)'} "
                            "in every version; only the creator publishes new versions "
                            "(STIX 2.1 section 3.6)",
                        )
                    )
                    continue
        # first/last over every stored version, hidden ones included
        is_first = all(e[0] > vkey for e in entries)
        is_last = all(e[0] <= vkey for e in entries)
        for e in entries:
            if is_last and e[4]:
                e[4] = False
                _clear(pending, e[2], _LAST, plan.clear_last)
            if is_first and e[3]:
                e[3] = False
                _clear(pending, e[2], _FIRST, plan.clear_first)
        row = [
            seq,
            collection_id,
            nv.id,
            nv.type,
            version_text,
            vkey,
            nv.spec_version,
            stamp,
            nv.created_by,
            " ".join(nv.markings),
            writer_user,
            writer_org,
            peer,
            nv.tlp,
            local_orgs.get(nv.created_by or "", writer_org),
            is_first,
            is_last,
            h,
            nv.json,
        ]
        entries.append([vkey, h, seq, is_first, is_last, version_text, nv.created_by, True])
        plan.rows.append(row)
        pending[seq] = row
        plan.recipients.extend((seq, uid) for uid in nv.recipients)
        plan.results.append(WriteResult(nv.index, nv.id, version_text, "added"))
        seq += 1
    return plan


def _clear(pending: dict[int, list[Any]], seq: int, col: int, stored: list[int]) -> None:
    row = pending.get(seq)
    if row is not None:
        row[col] = False
    else:
        stored.append(seq)


def plan_deletion(
    rows: Sequence[tuple[Any, ...]],
    versions: VersionFilter,
    spec_versions: tuple[str, ...],
    creator_org: int | None,
) -> list[int]:
    """The seqs to delete among one object's stored versions.

    ``rows`` are (seq, vkey, spec_version, creator_org_id, visible) ordered by (vkey, seq).
    Only visible versions exist for the caller; "first"/"last" are among those; with
    ``creator_org`` only that organisation's versions may go.
    """
    visible = [r for r in rows if r[4]]
    if not visible:
        return []
    first_seq, last_seq = visible[0][0], visible[-1][0]
    exact = {compare_key(e) for e in versions.exact}
    return [
        seq
        for seq, vkey, spec, creator, _ in visible
        if (not spec_versions or spec in spec_versions)
        and (creator_org is None or creator == creator_org)
        and (
            versions.all
            or (versions.last and seq == last_seq)
            or (versions.first and seq == first_seq)
            or vkey in exact
        )
    ]
