"""Rough speed guards: full validation must stay far below the import budget
(20,000 mixed objects/s on one core, i.e. 50 us an object)."""

from __future__ import annotations

import time

from tansiq.stix import check_object

from .oracles import ICS_ATTACK, corpus_objects, load


def _per_object(objects: list[dict], rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for o in objects:
            check_object(o)
        best = min(best, (time.perf_counter() - start) / len(objects))
    return best


def test_ics_attack_speed() -> None:
    objects = load(ICS_ATTACK)["objects"]
    assert _per_object(objects) < 40e-6


def test_corpus_speed() -> None:
    objects = [o for _, o in corpus_objects()]
    assert _per_object(objects * 10) < 60e-6
