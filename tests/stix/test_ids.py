"""Identifiers and SCO deterministic ids, compared with stix2's own id generation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import stix2

from tansiq.errors import StixError
from tansiq.stix import (
    SCO_TYPES,
    SDO_TYPES,
    SRO_TYPES,
    check_object,
    is_sco,
    is_valid_identifier,
    sco_id,
)
from tansiq.stix.canonical import canonical_json
from tansiq.stix.ids import deterministic_sco_id, id_type, is_sco_object, uuid_version

from .oracles import corpus_objects

H256 = "fe90a7e910cb3a4739bed9180e807e93fa70c90f25a8915476f5e4bfbac681db"
SCOS: list[dict[str, Any]] = [
    {"type": "ipv4-addr", "value": "198.51.100.3"},
    {"type": "ipv4-addr", "value": "203.0.113.0/24"},
    {"type": "ipv6-addr", "value": "2001:0db8:85a3:0000:0000:8a2e:0370:7334"},
    {"type": "mac-addr", "value": "d2:fb:49:24:37:18"},
    {"type": "domain-name", "value": "example.com"},
    {"type": "domain-name", "value": "xn--mnchen-3ya.de"},
    {"type": "url", "value": 'https://example.com/research/index.html?q="x"&r=é'},
    {"type": "email-addr", "value": "john@example.com", "display_name": "John Doe"},
    {"type": "mutex", "name": "__CLEANSWEEP__"},
    {"type": "autonomous-system", "number": 15139, "name": "Slime Industries"},
    {"type": "directory", "path": "C:\\Windows\\System32"},
    {"type": "file", "hashes": {"SHA-256": H256}, "name": "foo.dll", "size": 25536},
    {"type": "file", "hashes": {"SHA-256": H256, "MD5": "3773a88f65a5e780c8dff9cdc3a056f3"}},
    {"type": "file", "hashes": {"SHA-512": "a" * 128, "SHA-1": "b" * 40}},
    {"type": "file", "hashes": {"x_custom": "abc", "ssdeep": "3:a:b"}},
    {
        "type": "file",
        "name": "quêry.dll",
        "parent_directory_ref": "directory--0a58d0c1-59e6-5afd-8252-dcd3f13e5622",
    },
    {
        "type": "file",
        "name": "a.exe",
        "extensions": {"windows-pebinary-ext": {"pe_type": "exe", "imphash": "x"}},
    },
    {"type": "artifact", "payload_bin": "aGVsbG8=", "mime_type": "text/plain"},
    {
        "type": "artifact",
        "url": "https://x.example/a",
        "hashes": {"MD5": "3773a88f65a5e780c8dff9cdc3a056f3"},
    },
    {
        "type": "software",
        "name": "Word",
        "cpe": "cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*",
        "vendor": "Microsoft",
    },
    {"type": "user-account", "user_id": "1001", "account_login": "jdoe", "account_type": "unix"},
    {"type": "user-account", "account_login": "root"},
    {"type": "windows-registry-key", "key": "HKEY_LOCAL_MACHINE\\System\\Foo"},
    {
        "type": "windows-registry-key",
        "key": "hklm2",
        "values": [{"name": "Foo", "data": "qwerty", "data_type": "REG_SZ"}],
    },
    {"type": "x509-certificate", "serial_number": "36:f7:d4:32:f4:ab:70:ea", "issuer": "CN=x"},
    {
        "type": "email-message",
        "is_multipart": False,
        "subject": "Saying Hello",
        "body": "Hi",
        "from_ref": "email-addr--6deb37bd-12b7-54ae-805f-5f7146f3d171",
    },
    {
        "type": "network-traffic",
        "src_ref": "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4",
        "protocols": ["tcp"],
        "src_port": 80,
        "dst_port": 8080,
    },
]


def _stix2_id(obj: dict[str, Any]) -> str:
    return str(stix2.parse(dict(obj, spec_version="2.1"), allow_custom=True, version="2.1").id)


@pytest.mark.parametrize("obj", SCOS, ids=[f"{o['type']}-{i}" for i, o in enumerate(SCOS)])
def test_deterministic_id_matches_stix2(obj: dict[str, Any]) -> None:
    mine = sco_id(obj)
    assert mine == _stix2_id(obj)
    assert uuid_version(mine) == 5
    assert mine == sco_id(dict(obj))  # deterministic


@pytest.mark.parametrize("obj", SCOS, ids=[f"{o['type']}-{i}" for i, o in enumerate(SCOS)])
def test_check_object_assigns_and_verifies_the_id(obj: dict[str, Any]) -> None:
    out = check_object(dict(obj))
    assert out["id"] == sco_id(obj)
    assert "id" not in obj  # the input is not modified
    assert check_object(out)["id"] == out["id"]


def test_spec_example_ids() -> None:
    # ids printed in the STIX 2.1 specification examples (§2.9, §6)
    assert (
        sco_id({"type": "ipv4-addr", "value": "198.51.100.3"})
        == "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"
    )
    assert (
        sco_id({"type": "domain-name", "value": "example.com"})
        == "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"
    )
    assert (
        sco_id({"type": "mutex", "name": "__CLEANSWEEP__"})
        == "mutex--f93fe911-e545-5239-b9b0-597840d0c871"
    )
    assert (
        sco_id({"type": "url", "value": "https://example.com/research/index.html"})
        == "url--47c3cf9a-5027-5bf0-997a-017c7edc7c55"
    )


def test_no_contributing_property_gives_uuid4() -> None:
    for obj in (
        {"type": "process", "pid": 12},
        {"type": "user-account", "display_name": "x"},
        {"type": "x-acme-thing", "x_value": 1},
    ):
        assert deterministic_sco_id(obj) is None
        a, b = sco_id(obj), sco_id(obj)
        assert a != b and uuid_version(a) == 4 and a.startswith(f"{obj['type']}--")
        assert uuid_version(check_object(dict(obj, spec_version="2.1"))["id"]) == 4


def test_uuid4_ids_on_scos_are_allowed() -> None:
    obj = {"type": "ipv4-addr", "id": f"ipv4-addr--{uuid.uuid4()}", "value": "198.51.100.3"}
    assert check_object(obj)["id"] == obj["id"]


def test_uuid5_mismatch_is_rejected() -> None:
    obj = {
        "type": "ipv4-addr",
        "id": sco_id({"type": "ipv4-addr", "value": "10.0.0.1"}),
        "value": "10.0.0.2",
    }
    with pytest.raises(StixError) as e:
        check_object(obj)
    assert e.value.prop == "id" and e.value.object_id == obj["id"]
    assert sco_id({"type": "ipv4-addr", "value": "10.0.0.2"}) in e.value.reason


def test_uppercase_uuid_is_accepted() -> None:
    det = sco_id({"type": "ipv4-addr", "value": "10.0.0.1"})
    obj = {
        "type": "ipv4-addr",
        "id": "ipv4-addr--" + det.split("--")[1].upper(),
        "value": "10.0.0.1",
    }
    assert check_object(obj)["id"] == obj["id"]


def test_corpus_scos_carry_their_deterministic_ids() -> None:
    n = 0
    for _name, obj in corpus_objects():
        if obj["type"] in SCO_TYPES and uuid_version(obj["id"]) == 5:
            assert (
                deterministic_sco_id(obj)
                == obj["id"]
                == _stix2_id({k: v for k, v in obj.items() if k != "id"})
            )
            n += 1
    assert n > 20


@pytest.mark.parametrize(
    "s,ok",
    [
        ("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", True),
        ("x-mitre-tactic--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", True),
        ("ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4", True),
        ("indicator--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F", True),
        ("indicator--8e2e2d2b-17d4-0cbf-938f-98ee46b3cd3f", False),  # version 0
        ("indicator--8e2e2d2b-17d4-6cbf-938f-98ee46b3cd3f", False),  # version 6 is not RFC 4122
        ("indicator--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f", False),  # variant
        ("indicator--8e2e2d2b17d44cbf938f98ee46b3cd3f", False),
        ("indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", False),
        ("Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", False),
        ("x--y--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", False),
        ("--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", False),
        ("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f ", False),
        ("", False),
    ],
)
def test_is_valid_identifier(s: str, ok: bool) -> None:
    assert is_valid_identifier(s) is ok
    assert (id_type(s) is not None) is ok


def test_type_sets() -> None:
    assert len(SDO_TYPES) == 19 and len(SRO_TYPES) == 2 and len(SCO_TYPES) == 18
    assert is_sco("file") and not is_sco("indicator") and not is_sco("x-foo")
    assert is_sco_object({"type": "x-foo", "value": 1})
    assert not is_sco_object({"type": "x-foo", "created": "2020-01-01T00:00:00.000Z"})
    assert id_type(12) is None


@pytest.mark.parametrize(
    "value,expected",
    [
        ({"b": 1, "a": [True, None, 1.5, "x"]}, '{"a":[true,null,1.5,"x"],"b":1}'),
        ({"é": '\u2028\n"\\/'}, '{"é":"\u2028\\n\\"\\\\/"}'),
        ([1e21, 1e-7, 100.0, -0.0, 123456789.125], "[1e+21,1e-7,100,0,123456789.125]"),
        ({"\U0001f600": 1, "\ufb33": 2}, '{"\U0001f600":1,"\ufb33":2}'),
        ("\x01", '"\\u0001"'),
    ],
)
def test_canonical_json(value: Any, expected: str) -> None:
    assert canonical_json(value) == expected


def test_strict_sco_ids_can_be_relaxed() -> None:
    # e.g. OpenCTI derives a file id from its hashes only (§3.4 allows other algorithms)
    f = {"type": "file", "hashes": {"MD5": "3773a88f65a5e780c8dff9cdc3a056f3"}, "name": "a.exe"}
    other = sco_id({"type": "file", "hashes": f["hashes"]})
    obj = dict(f, id=other)
    with pytest.raises(StixError):
        check_object(obj)
    assert check_object(obj, strict_sco_ids=False) is obj
    # the UUIDv4 rule for SCOs without contributing properties still applies
    with pytest.raises(StixError):
        check_object(
            {"type": "process", "id": f"process--{uuid.uuid5(uuid.NAMESPACE_DNS, 'x')}", "pid": 1},
            strict_sco_ids=False,
        )


def test_id_inside_an_extension_is_accepted() -> None:
    ext = "extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba"
    obj = {
        "type": "ipv4-addr",
        "value": "10.0.0.1",
        "extensions": {
            ext: {"extension_type": "property-extension", "id": "abc", "type": "IPv4-Addr"}
        },
    }
    assert check_object(obj)["id"] == sco_id(obj)
