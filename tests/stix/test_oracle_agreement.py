"""tansiq.stix against the two reference implementations.

For every valid corpus object and every invalid case of ``cases.py`` our verdict must
equal stix2-validator's MUST-level verdict and whether ``stix2.parse(obj,
allow_custom=True)`` raises -- except where ALLOW says why an oracle legitimately
differs. An ALLOW entry is itself checked: the oracle must really disagree, so the
list cannot go stale.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tansiq.errors import StixError
from tansiq.stix import check_bundle, check_object

from .cases import CASES, Case
from .oracles import EXAMPLES, ICS_ATTACK, corpus_objects, load, stix2_ok, validator_ok

# -- why an oracle may disagree ---------------------------------------------------------------
V_CRASH = "stix2-validator raises instead of reporting (it indexes 'type'/'id' and assumes dict/str values)"
V_SCO_REFS = (
    "stix2-validator checks SCO reference targets only inside observed-data containers; "
    "§6 says the referenced object MUST be of the given type(s)"
)
S_UNKNOWN_TYPE = (
    "stix2.parse(allow_custom=True) returns an unknown type as a plain dict without any check"
)
S_COERCE = (
    "stix2 coerces the value (str()/float()/bool()) instead of rejecting it; §2 types are MUST"
)
S_DEFAULT = "stix2 fills in a default for a missing required property; §3.1: required properties MUST be present"
S_CUSTOM = "with allow_custom=True stix2 accepts any custom property name/value; §3.1/§11.1 name rules, §2.12/§2.8/§2.1 value rules"
S_EXTENSIONS = "stix2 does not check the extensions dictionary; §3.2/§7.3/§11.3"


def _no(rule: str) -> str:
    return f"the oracle does not implement this MUST: {rule}"


ALLOW: dict[str, dict[str, str]] = {
    # type / id / spec_version
    "type-missing": {"validator": V_CRASH},
    "type-not-string": {"validator": V_CRASH, "stix2": S_UNKNOWN_TYPE},
    "type-uppercase": {"stix2": S_UNKNOWN_TYPE},
    "type-double-hyphen": {"stix2": S_UNKNOWN_TYPE},
    "type-too-short": {"stix2": S_UNKNOWN_TYPE},
    "type-leading-digit": {"stix2": S_UNKNOWN_TYPE},
    "type-underscore": {"stix2": S_UNKNOWN_TYPE},
    "type-trailing-hyphen": {
        "validator": _no(
            "§11.2/§7.3.2.2 type names without leading/trailing/double hyphen (its regex allows a trailing '-')"
        ),
        "stix2": S_UNKNOWN_TYPE,
    },
    "type-bundle": {
        "validator": "a bundle is a valid *payload* for the oracles; check_object takes STIX objects only (§8: a bundle is not a STIX object) -- bundles go through check_bundle",
        "stix2": "same: stix2.parse parses bundles; check_object takes STIX objects only (§8)",
    },
    "spec-version-20-on-sco": {
        "validator": _no('§3.2 spec_version MUST be "2.1" (its schema allows "2.0" on SCOs)')
    },
    "spec-version-missing-21-type": {"stix2": S_DEFAULT},
    "id-missing-sdo": {"validator": V_CRASH, "stix2": S_DEFAULT},
    "id-uuid-version-0": {"stix2": _no("§2.9 the UUID MUST be RFC 4122 (version 1-5)")},
    # required properties
    "required-marking-definition-created": {"stix2": S_DEFAULT},
    "required-indicator-created": {"stix2": S_DEFAULT},
    "required-indicator-modified": {"stix2": S_DEFAULT},
    "required-x-example-com-customobject-modified": {"stix2": S_UNKNOWN_TYPE},
    "required-extension-definition-created_by_ref": {
        "validator": _no("§7.3.1 created_by_ref is required on extension-definition")
    },
    # timestamps
    "created-not-string": {"validator": V_CRASH},
    "created-no-millis": {
        "stix2": _no("§3.2 created/modified minimum precision MUST be milliseconds")
    },
    "created-lowercase-z": {
        "stix2": _no("§2.16 the format is YYYY-MM-DDTHH:mm:ss[.s+]Z with 'T' and 'Z'")
    },
    "modified-before-created": {
        "stix2": _no("§3.2 modified MUST be later than or equal to created")
    },
    "modified-before-created-sub-ms": {
        "validator": "stix2-validator compares at most microseconds; §3.2/§3.6.1 compare the full timestamps"
    },
    "pe-time-date-stamp-fraction": {
        "stix2": _no("§6.7.6 time_date_stamp MUST be precise to the second")
    },
    # common properties
    "created-by-ref-not-identity": {
        "validator": _no("§3.2 created_by_ref is the id of an identity object")
    },
    "marking-refs-not-marking": {
        "validator": _no("§3.2 object_marking_refs are ids of marking-definition objects")
    },
    "marking-refs-empty": {"stix2": _no("§2.12 empty lists MUST NOT be used")},
    "marking-refs-string": {"stix2": S_COERCE},
    "labels-empty": {"stix2": _no("§2.12 empty lists MUST NOT be used")},
    "labels-int": {"stix2": S_COERCE},
    "confidence-101": {"stix2": _no("§3.2 confidence MUST be in the range 0-100")},
    "confidence-negative": {"stix2": _no("§3.2 confidence MUST be in the range 0-100")},
    "confidence-bool": {"stix2": S_COERCE},
    "lang-not-rfc5646": {"stix2": _no("§3.2 lang MUST be an RFC 5646 language code")},
    "lang-underscore": {"stix2": _no("§3.2 lang MUST be an RFC 5646 language code")},
    "kcp-phase-name-int": {"stix2": S_COERCE},
    "granular-both-ref-and-lang": {
        "validator": _no("§7.2.3.1 lang MUST NOT be present with marking_ref")
    },
    "granular-selector-index-on-string": {
        "validator": "stix2-validator indexes into the string; §7.2.3.1 names description.[0] as an invalid selector"
    },
    "defanged-on-sdo": {
        "validator": _no("§3.2 defanged MUST NOT be used on objects other than SCOs"),
        "stix2": _no("§3.2 defanged MUST NOT be used on objects other than SCOs"),
    },
    "reserved-severity": {"stix2": _no("§3.8 reserved property names MUST NOT be present")},
    "reserved-action-on-coa": {"stix2": _no("§3.8/§4.3 'action' is RESERVED")},
    "reserved-phone-number": {
        "validator": "stix2-validator's schema reserves 'phone_numbers' instead of §3.8's 'phone_number'",
        "stix2": _no("§3.8 reserved property names MUST NOT be present"),
    },
    "custom-prop-uppercase": {"stix2": S_CUSTOM},
    "custom-prop-too-short": {"stix2": S_CUSTOM},
    "custom-prop-hyphen": {"stix2": S_CUSTOM},
    "custom-prop-null": {"stix2": S_CUSTOM},
    "custom-prop-empty-list": {"stix2": S_CUSTOM},
    "custom-prop-bad-hex": {"stix2": S_CUSTOM},
    "custom-prop-bad-bin": {"stix2": S_CUSTOM},
    "custom-object-prop-uppercase": {"stix2": S_UNKNOWN_TYPE},
    # extensions
    "extensions-empty": {"stix2": S_EXTENSIONS},
    "extension-def-no-extension-type": {"stix2": S_EXTENSIONS},
    "extension-type-bad": {"stix2": S_EXTENSIONS},
    "extension-key-bad": {"stix2": S_EXTENSIONS},
    "extension-body-empty": {"stix2": S_EXTENSIONS},
    "extension-prop-uppercase": {"stix2": S_EXTENSIONS},
    # patterns
    "pattern-object-type-uppercase": {
        "stix2": _no("§3.1/§9.7 object type names in patterns are STIX type names")
    },
    "pattern-property-uppercase": {
        "stix2": _no("§3.1/§9.7 property names in patterns are STIX property names")
    },
    # SDO rules
    "location-lat-string": {"stix2": S_COERCE},
    "malware-is-family-string": {"stix2": S_COERCE},
    "malware-sample-refs-not-file": {
        "validator": _no("§4.11 sample_refs MUST reference file or artifact")
    },
    "malware-analysis-sample-ref-wrong": {
        "stix2": _no("§4.12 sample_ref references file, network-traffic or artifact")
    },
    "observed-data-both-objects-and-refs": {"validator": V_CRASH},
    "observed-data-refs-no-sco": {
        "validator": _no("§4.14 object_refs MUST contain at least one SCO reference"),
        "stix2": _no("§4.14 object_refs MUST contain at least one SCO reference"),
    },
    "grouping-refs-bundle": {
        "validator": _no("§4.4/§8 object_refs reference STIX Objects; a bundle is not one"),
        "stix2": _no("§4.4/§8 object_refs reference STIX Objects; a bundle is not one"),
    },
    "relationship-type-space": {"stix2": _no("§5.1.2 relationship_type MUST be a-z, 0-9 and '-'")},
    "relationship-type-uppercase": {
        "stix2": _no("§5.1.2 relationship_type MUST be a-z, 0-9 and '-'")
    },
    "sighting-of-sco": {"validator": _no("§5.2.1 sighting_of_ref MUST reference only an SDO")},
    "sighting-summary-string": {"stix2": S_COERCE},
    "language-content-bad-lang-key": {"stix2": _no("§7.1.1 contents keys MUST be RFC 5646 codes")},
    "language-content-value-not-dict": {
        "validator": V_CRASH,
        "stix2": _no("§7.1.1 contents values mirror the object's properties"),
    },
    "language-content-object-ref-bundle": {
        "stix2": _no("§7.1.1 object_ref MUST be the identifier of a STIX Object")
    },
    "marking-self-reference": {"stix2": _no("§3.2 a marking definition MUST NOT reference itself")},
    "marking-tlp2-wrong-id": {
        "validator": "the TLP 2.0 extension schema (extension-definition--60a3c5c5...) fixes the five ids; the oracles do not load extension schemas",
        "stix2": "the TLP 2.0 extension schema fixes the five ids; the oracles do not load extension schemas",
    },
    "extension-definition-props-without-toplevel": {
        "stix2": _no(
            "§7.3.1 extension_properties MUST only be used with toplevel-property-extension"
        )
    },
    # SCO rules
    "artifact-key-without-algorithm": {
        "stix2": _no("§6.1 decryption_key MUST NOT be present without encryption_algorithm")
    },
    "as-number-string": {"stix2": S_COERCE},
    "directory-contains-ipv4": {"validator": V_SCO_REFS},
    "directory-path-enc-bad": {
        "stix2": _no("§3.9.1/§6.3 path_enc MUST be an IANA character set name")
    },
    "domain-resolves-to-url": {"validator": V_SCO_REFS},
    "email-addr-belongs-to-identity": {"validator": V_SCO_REFS},
    "email-from-not-email-addr": {"validator": V_SCO_REFS},
    "email-header-value-not-list": {
        "validator": _no("§6.6 additional_header_fields values MUST be lists of strings"),
        "stix2": _no("§6.6 additional_header_fields values MUST be lists of strings"),
    },
    "email-is-multipart-string": {"stix2": S_COERCE},
    "file-parent-not-directory": {"validator": V_SCO_REFS},
    "file-content-not-artifact": {"validator": V_SCO_REFS},
    "file-name-enc-bad": {"stix2": _no("§6.7 name_enc MUST be an IANA character set name")},
    "file-pe-only-pe-type": {"stix2": _no("§6.7.6 at least one property other than pe_type")},
    "file-archive-contains-ipv4": {"validator": V_SCO_REFS},
    "file-raster-exif-list": {"stix2": _no("§6.7.5 EXIF values MUST be integers or strings")},
    "ipv4-out-of-range": {"stix2": _no("§6.8 value is IPv4 CIDR notation")},
    "ipv4-leading-zero": {"stix2": _no("§6.8 value is IPv4 CIDR notation")},
    "ipv4-bad-prefix": {"stix2": _no("§6.8 value is IPv4 CIDR notation")},
    "ipv4-resolves-to-domain": {"validator": V_SCO_REFS},
    "ipv6-bad": {"stix2": _no("§6.9 value is IPv6 CIDR notation")},
    "mac-uppercase": {"stix2": _no("§6.10 value MUST be colon-delimited lowercase MAC-48")},
    "mac-dashes": {"stix2": _no("§6.10 value MUST be colon-delimited lowercase MAC-48")},
    "nt-src-ref-url": {"validator": V_SCO_REFS},
    "nt-ipfix-list-value": {"stix2": _no("§6.12 ipfix values MUST be integers or strings")},
    "process-parent-not-process": {"validator": V_SCO_REFS},
    "process-env-value-int": {
        "validator": _no("§6.13 environment variable values MUST be strings"),
        "stix2": _no("§6.13 environment variable values MUST be strings"),
    },
    "process-uuid5-id": {
        "stix2": _no("§2.9 an SCO without ID Contributing Properties MUST use a UUIDv4")
    },
    "software-bad-cpe": {"stix2": _no("§6.14 cpe MUST be a CPE 2.3 entry")},
    "software-bad-language": {"stix2": _no("§6.14 languages MUST be RFC 5646 codes")},
    "user-account-no-properties": {"stix2": _no("§6.16 at least one property MUST be present")},
    "registry-no-properties": {"stix2": _no("§6.17 at least one property MUST be present")},
    "registry-abbreviated-hive": {"stix2": _no("§6.17 the hive MUST be fully expanded")},
    "registry-value-empty": {"stix2": _no("§6.17.2 at least one property MUST be present")},
    "x509-v3-extensions-empty": {"stix2": _no("§6.18.2 at least one property MUST be present")},
    "x509-exponent-string": {"stix2": S_COERCE},
    "sco-uuid5-mismatch": {
        "validator": "Tansiq policy: a UUIDv5 SCO id MUST equal the deterministic id (§2.9/§3.4 namespace rule, needed for deduplication); the oracles do not recompute ids",
        "stix2": "Tansiq policy: a UUIDv5 SCO id MUST equal the deterministic id; stix2 does not recompute given ids",
    },
    "sco-no-contributing-props-uuid5": {
        "stix2": _no("§2.9 with no ID Contributing Property a UUIDv4 MUST be used")
    },
}

#: Valid objects an oracle cannot handle.
ALLOW_VALID: dict[str, dict[str, str]] = {
    "sdo[18]:observed-data": {
        "validator": V_CRASH + " (the deprecated §2.13 observable container with local references)",
        "stix2": "stix2 2.1 parsing rejects the local references ('0', '1') that §2.13 allows in the deprecated container",
    },
}

ORACLES = {"validator": validator_ok, "stix2": stix2_ok}


def _mine(obj: Any) -> tuple[bool, StixError | None]:
    try:
        check_object(copy.deepcopy(obj))
    except StixError as e:
        return False, e
    return True, None


def _agree(name: str, obj: Any, mine: bool, allow: dict[str, dict[str, str]]) -> None:
    for oracle, fn in ORACLES.items():
        verdict = fn(obj) if isinstance(obj, dict) else False
        reason = allow.get(name, {}).get(oracle)
        if reason:
            assert verdict is not mine, (
                f"{name}: stale allow-list entry, {oracle} now agrees ({reason})"
            )
        else:
            assert verdict is mine, f"{name}: {oracle} says {verdict}, tansiq says {mine}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_invalid_case(case: Case) -> None:
    obj = case.build()
    ok, err = _mine(obj)
    assert not ok, f"{case.name} was accepted"
    assert err is not None
    # the error names the object, the property and the reason
    expected_id = (
        obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
    )
    assert err.object_id == expected_id
    assert err.prop == case.prop, err
    assert err.reason and err.reason in str(err)
    if case.prop:
        assert f"property '{case.prop}'" in str(err)
    if expected_id:
        assert str(err).startswith(expected_id)
    _agree(case.name, obj, False, ALLOW)


def test_every_case_name_unique_and_allowlist_known() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert set(ALLOW) <= set(names)


CORPUS = corpus_objects()


@pytest.mark.parametrize("name,obj", CORPUS, ids=[n for n, _ in CORPUS])
def test_valid_corpus(name: str, obj: dict[str, Any]) -> None:
    ok, err = _mine(obj)
    assert ok, err
    _agree(name, obj, True, ALLOW_VALID)


def test_corpus_covers_every_type() -> None:
    from tansiq.stix.ids import META_TYPES, SCO_TYPES, SDO_TYPES, SRO_TYPES

    types = {o["type"] for _, o in CORPUS}
    assert types >= SDO_TYPES | SRO_TYPES | SCO_TYPES | META_TYPES
    assert any(t.startswith("x-") for t in types)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.rsplit("/", 1)[-1] for p in EXAMPLES])
def test_oasis_examples(path: str) -> None:
    data = load(path)
    results = check_bundle(data)
    assert results and all(r.ok for r in results), [str(r.error) for r in results if r.error]
    for r in results:
        assert r.obj is not None
        assert validator_ok(r.obj) is True
        assert stix2_ok(r.obj)


def test_ics_attack_imports_entirely() -> None:
    data = load(ICS_ATTACK)
    assert "spec_version" not in data
    results = check_bundle(data)
    assert len(results) == 1826
    assert [str(r.error) for r in results if r.error] == []
    types = {r.obj["type"] for r in results if r.obj}
    assert {
        "x-mitre-tactic",
        "x-mitre-matrix",
        "x-mitre-collection",
        "x-mitre-data-source",
    } <= types
    assert {"x-mitre-data-component", "x-mitre-asset"} <= types
    # the oracles agree on a sample of every type (the full run costs seconds)
    seen: dict[str, int] = {}
    for r in results:
        assert r.obj is not None
        n = seen.get(r.obj["type"], 0)
        if n < 3:
            seen[r.obj["type"]] = n + 1
            assert validator_ok(r.obj) is True, r.object_id
            assert stix2_ok(r.obj), r.object_id
