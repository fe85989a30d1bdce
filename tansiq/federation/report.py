"""What one sync did: per mapping and per peer (printed by the CLI, kept in the status)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from tansiq.federation.peers import Mapping
from tansiq.storage.base import WriteResult


@dataclass
class MappingResult:
    direction: str
    remote: str
    local: str
    objects: int = 0  # versions fetched (pull) or offered (push)
    added: int = 0
    unchanged: int = 0
    invalid: int = 0
    conflicts: int = 0
    denied: int = 0
    failed: int = 0  # push: versions the peer refused (kept for retry)
    retried: int = 0  # push: earlier failures sent again
    pages: int = 0
    complete: bool = False  # reached the end of what there was to move
    error: str | None = None

    @classmethod
    def of(cls, mapping: Mapping) -> MappingResult:
        return cls(mapping.direction, mapping.remote, mapping.local)

    def count(self, results: Iterable[WriteResult]) -> None:
        for r in results:
            if r.outcome == "added":
                self.added += 1
            elif r.outcome == "unchanged":
                self.unchanged += 1
            elif r.outcome == "invalid":
                self.invalid += 1
            elif r.outcome == "conflict":
                self.conflicts += 1
            else:
                self.denied += 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PeerReport:
    peer: str
    started: str
    finished: str = ""
    mappings: list[MappingResult] = field(default_factory=list)
    error: str | None = None  # a failure before or outside the mappings

    @property
    def ok(self) -> bool:
        return self.error is None and all(m.error is None for m in self.mappings)

    @property
    def errors(self) -> list[str]:
        out = [self.error] if self.error else []
        out += [f"{m.direction} {m.remote}/{m.local}: {m.error}" for m in self.mappings if m.error]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "peer": self.peer,
            "ok": self.ok,
            "started": self.started,
            "finished": self.finished,
            "error": self.error,
            "mappings": [m.as_dict() for m in self.mappings],
        }
