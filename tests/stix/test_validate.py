"""check_object details not covered by the oracle comparison."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tansiq.errors import InvalidInput, StixError
from tansiq.stix import check_object, sco_id, vocab

IND: dict[str, Any] = {
    "type": "indicator",
    "spec_version": "2.1",
    "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "created": "2016-04-06T20:03:48.000Z",
    "modified": "2016-04-06T20:03:48.000Z",
    "pattern": "[ipv4-addr:value = '10.0.0.1']",
    "pattern_type": "stix",
    "valid_from": "2016-01-01T00:00:00Z",
}


def test_valid_object_is_returned_unchanged() -> None:
    obj = copy.deepcopy(IND)
    assert check_object(obj) is obj
    assert obj == IND


def test_error_is_a_stix_error_with_where_and_why() -> None:
    with pytest.raises(StixError) as e:
        check_object(dict(IND, confidence=200))
    err = e.value
    assert isinstance(err, InvalidInput) and err.http_status == 422
    assert (err.object_id, err.prop) == (IND["id"], "confidence")
    assert str(err) == f"{IND['id']}: property 'confidence': {err.reason}"


def test_failed_object_is_not_modified() -> None:
    obj = {"type": "ipv4-addr", "value": "999.0.0.1"}
    with pytest.raises(StixError):
        check_object(obj)
    assert obj == {"type": "ipv4-addr", "value": "999.0.0.1"}


def test_integral_floats_are_integers() -> None:
    sighting = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": "sighting--ee20065d-2555-424f-ad9e-0f8428623c75",
        "created": "2016-04-06T20:08:31.000Z",
        "modified": "2016-04-06T20:08:31.000Z",
        "sighting_of_ref": IND["id"],
        "count": 3.0,
    }
    assert check_object(sighting)["count"] == 3
    with pytest.raises(StixError):
        check_object(dict(sighting, count=3.5))


def test_pattern_version_20_has_no_exists() -> None:
    ok = dict(IND, pattern="[EXISTS file:name]")
    check_object(ok)
    with pytest.raises(StixError) as e:
        check_object(dict(ok, pattern_version="2.0"))
    assert e.value.prop == "pattern"


def test_non_stix_patterns_are_not_parsed() -> None:
    check_object(dict(IND, pattern="rule x { condition: true }", pattern_type="yara"))


def test_defanged_values_skip_the_address_syntax() -> None:
    obj = {"type": "ipv4-addr", "value": "198.51.100[.]3", "defanged": True}
    assert check_object(dict(obj))["id"] == sco_id(obj)
    with pytest.raises(StixError):
        check_object(dict(obj, defanged=False))


def test_unknown_keys_in_data_types_are_ignored_but_not_in_extensions() -> None:
    check_object(
        dict(IND, external_references=[{"source_name": "a", "url": "https://x", "Comment": "x"}])
    )
    f = {"type": "file", "name": "a", "extensions": {"ntfs-ext": {"sid": "1", "Bad": 1}}}
    with pytest.raises(StixError) as e:
        check_object(f)
    assert e.value.prop == "extensions.ntfs-ext.Bad"


def test_hex_is_case_insensitive() -> None:
    # §2.8 says lowercase; the specification's own examples and both references accept
    # upper case, so Tansiq does too.
    f = {"type": "file", "name": "a", "magic_number_hex": "504B0304"}
    check_object(f)


def test_toplevel_property_extension() -> None:
    ext = "extension-definition--71736db5-10db-43d3-b0e3-65cf81601fe1"
    obj = dict(IND, rank=1, extensions={ext: {"extension_type": "toplevel-property-extension"}})
    assert check_object(obj) is obj


@pytest.mark.parametrize(
    "tag,ok",
    [
        ("en", True),
        ("EN-us", True),
        ("zh-Hant-TW", True),
        ("de-CH-1996", True),
        ("sr-Latn-RS", True),
        ("es-419", True),
        ("x-private", True),
        ("en-GB-oed", True),
        ("i-klingon", True),
        ("ar-DZ-u-nu-arab", True),
        ("english", False),
        ("en_US", False),
        ("e", False),
        ("en-", False),
        ("123", False),
        ("", False),
    ],
)
def test_language_tags(tag: str, ok: bool) -> None:
    assert vocab.is_language_tag(tag) is ok


@pytest.mark.parametrize(
    "cpe,ok",
    [
        ("cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*", True),
        ("cpe:2.3:o:linux:linux_kernel:5.10\\:rc1:-:*:en-us:*:*:*:*", True),
        ("cpe:2.3:h:cisco:*:*:*:*:*:*:*:*:*", True),
        ("cpe:/a:microsoft:word:2000", False),
        ("cpe:2.3:x:microsoft:word:2000:*:*:*:*:*:*:*", False),
        ("cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*", False),
        ("cpe:2.3:a:micro soft:word:2000:*:*:*:*:*:*:*", False),
    ],
)
def test_cpe(cpe: str, ok: bool) -> None:
    assert vocab.is_cpe23(cpe) is ok


@pytest.mark.parametrize(
    "name,ok",
    [
        ("utf-8", True),
        ("windows-1252", True),
        ("ISO_8859-1:1987", True),
        ("utf 8", False),
        ("", False),
    ],
)
def test_charset_names(name: str, ok: bool) -> None:
    assert vocab.is_charset_name(name) is ok
