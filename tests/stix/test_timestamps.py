from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tansiq.stix import format_timestamp, parse_timestamp, timestamp_key, version_of
from tansiq.stix.timestamps import compare_key, is_timestamp


@pytest.mark.parametrize(
    "s,key",
    [
        ("2016-01-01T00:00:00Z", "2016-01-01T00:00:00.000000Z"),
        ("2016-01-01T00:00:00.1Z", "2016-01-01T00:00:00.100000Z"),
        ("2016-01-01T00:00:00.123Z", "2016-01-01T00:00:00.123000Z"),
        ("2016-01-01T00:00:00.123456789Z", "2016-01-01T00:00:00.123456Z"),
        ("2024-02-29T23:59:59.999999Z", "2024-02-29T23:59:59.999999Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"),
    ],
)
def test_timestamp_key(s: str, key: str) -> None:
    assert timestamp_key(s) == key
    assert len(key) == 27
    dt = parse_timestamp(s)
    assert dt.tzinfo is UTC
    assert format_timestamp(dt) == key


@pytest.mark.parametrize(
    "s",
    [
        "2016-01-01T00:00:00",
        "2016-01-01T00:00:00.Z",
        "2016-01-01 00:00:00Z",
        "2016-01-01t00:00:00Z",
        "2016-01-01T00:00:00z",
        "2016-01-01T00:00:00+00:00",
        "2016-1-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2016-04-31T00:00:00Z",
        "2016-13-01T00:00:00Z",
        "2016-00-01T00:00:00Z",
        "2016-01-00T00:00:00Z",
        "2016-01-01T24:00:00Z",
        "2016-01-01T23:60:00Z",
        "2016-12-31T23:59:60Z",
        "0000-01-01T00:00:00Z",
        "２０１６-01-01T00:00:00Z",
        "",
    ],
)
def test_invalid(s: str) -> None:
    assert not is_timestamp(s)
    with pytest.raises(ValueError):
        parse_timestamp(s)
    with pytest.raises(ValueError):
        timestamp_key(s)
    with pytest.raises(ValueError):
        compare_key(s)


def test_non_strings() -> None:
    for v in (None, 5, b"2016-01-01T00:00:00Z"):
        assert not is_timestamp(v)
        with pytest.raises(ValueError):
            timestamp_key(v)  # type: ignore[arg-type]


def test_keys_sort_like_instants() -> None:
    values = [
        "2016-01-01T00:00:00.5Z",
        "2016-01-01T00:00:00Z",
        "2016-01-01T00:00:00.45Z",
        "2015-12-31T23:59:59.9999999Z",
        "2016-01-01T00:00:00.4500Z",
        "2016-01-01T00:00:00.0000001Z",
    ]
    by_key = sorted(values, key=compare_key)
    assert by_key == [
        "2015-12-31T23:59:59.9999999Z",
        "2016-01-01T00:00:00Z",
        "2016-01-01T00:00:00.0000001Z",
        "2016-01-01T00:00:00.45Z",
        "2016-01-01T00:00:00.4500Z",
        "2016-01-01T00:00:00.5Z",
    ]
    assert compare_key("2016-01-01T00:00:00.45Z") == compare_key("2016-01-01T00:00:00.4500Z")
    assert sorted(values, key=timestamp_key) == sorted(values, key=lambda s: parse_timestamp(s))


def test_format_timestamp_converts_to_utc() -> None:
    dt = datetime(2020, 5, 1, 14, 0, 0, 1500, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(dt) == "2020-05-01T12:00:00.001500Z"
    assert format_timestamp(datetime(2020, 5, 1)) == "2020-05-01T00:00:00.000000Z"


def test_version_of() -> None:
    assert version_of({"created": "a", "modified": "b"}) == "b"
    assert version_of({"created": "a"}) == "a"
    assert version_of({"type": "ipv4-addr"}) is None
