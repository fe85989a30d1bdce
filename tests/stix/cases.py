"""Invalid objects: every MUST rule that tansiq.stix checks, broken at least once.

Each case is built from a valid object of the corpus by one change, and names the
property the rejection must name (``None`` when the object as a whole is at fault).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tansiq.stix import markings

from .oracles import corpus_objects

DEL = object()
U4 = "9a1f834d-2506-4367-baec-7aa63996ac43"
U5 = "9a1f834d-2506-5367-baec-7aa63996ac43"


def _bases() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    order = {"sdo": 0, "sro": 1, "sco": 2, "meta": 3, "custom": 4}
    for _name, obj in sorted(corpus_objects(), key=lambda no: order[no[0].split("[")[0]]):
        out.setdefault(obj["type"], obj)
    return out


BASE = _bases()
IND = BASE["indicator"]


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], Any]
    prop: str | None


def _apply(obj: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for path, value in changes.items():
        node: Any = obj
        parts = path.split("/")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        elif value is DEL:
            del node[last]
        else:
            node[last] = value
    return obj


def mut(base: str, prop: str | None, /, **changes: Any) -> Callable[[], Any]:
    """A builder: a copy of BASE[base] with ``changes`` (``a/b/0`` paths, DEL deletes)."""
    fixed = {k.replace("__", "/"): v for k, v in changes.items()}

    def build() -> Any:
        return _apply(copy.deepcopy(BASE[base]), fixed)

    return build


def obj(value: Any) -> Callable[[], Any]:
    return lambda: copy.deepcopy(value)


CASES: list[Case] = []


def case(name: str, prop: str | None, build: Callable[[], Any]) -> None:
    CASES.append(Case(name, build, prop))


def sdo(name: str, base: str, prop: str | None, /, **changes: Any) -> None:
    case(name, prop, mut(base, prop, **changes))


# -- the object itself, type, id, spec_version ---------------------------------------------------
case("not-an-object-list", None, obj([IND]))
case("not-an-object-string", None, obj("indicator"))
sdo("type-missing", "indicator", "type", type=DEL)
sdo("type-not-string", "indicator", "type", type=5)
sdo("type-uppercase", "indicator", "type", type="Indicator")
sdo("type-double-hyphen", "x-example-com-customobject", "type", type="x--example")
sdo("type-trailing-hyphen", "x-example-com-customobject", "type", type="x-example-")
sdo("type-too-short", "x-example-com-customobject", "type", type="xy")
sdo("type-leading-digit", "x-example-com-customobject", "type", type="1x-example")
sdo("type-underscore", "x-example-com-customobject", "type", type="x_example")
sdo("type-bundle", "indicator", "type", type="bundle", id=f"bundle--{U4}")
sdo("spec-version-wrong", "indicator", "spec_version", spec_version="2.2")
sdo("spec-version-number", "indicator", "spec_version", spec_version=2.1)
sdo("spec-version-missing-21-type", "grouping", "spec_version", spec_version=DEL)
sdo("spec-version-20-on-sco", "ipv4-addr", "spec_version", spec_version="2.0")
sdo("id-missing-sdo", "indicator", "id", id=DEL)
sdo("id-not-string", "indicator", "id", id=12)
sdo("id-no-uuid", "indicator", "id", id="indicator--1234")
sdo("id-uuid-version-0", "indicator", "id", id="indicator--9a1f834d-2506-0367-baec-7aa63996ac43")
sdo("id-uuid-bad-variant", "indicator", "id", id="indicator--9a1f834d-2506-4367-caec-7aa63996ac43")
sdo("id-type-mismatch", "indicator", "id", id=f"malware--{U4}")
sdo("id-single-hyphen", "indicator", "id", id=f"indicator-{U4}")

# -- required properties ----------------------------------------------------------------------
for t, p in [
    ("attack-pattern", "name"),
    ("campaign", "name"),
    ("course-of-action", "name"),
    ("grouping", "context"),
    ("grouping", "object_refs"),
    ("identity", "name"),
    ("incident", "name"),
    ("indicator", "pattern"),
    ("indicator", "pattern_type"),
    ("indicator", "valid_from"),
    ("infrastructure", "name"),
    ("intrusion-set", "name"),
    ("malware", "is_family"),
    ("malware-analysis", "product"),
    ("note", "content"),
    ("note", "object_refs"),
    ("observed-data", "first_observed"),
    ("observed-data", "last_observed"),
    ("observed-data", "number_observed"),
    ("opinion", "opinion"),
    ("opinion", "object_refs"),
    ("report", "name"),
    ("report", "published"),
    ("report", "object_refs"),
    ("threat-actor", "name"),
    ("tool", "name"),
    ("vulnerability", "name"),
    ("relationship", "relationship_type"),
    ("relationship", "source_ref"),
    ("relationship", "target_ref"),
    ("sighting", "sighting_of_ref"),
    ("language-content", "object_ref"),
    ("language-content", "contents"),
    ("marking-definition", "created"),
    ("extension-definition", "created_by_ref"),
    ("extension-definition", "name"),
    ("extension-definition", "schema"),
    ("extension-definition", "version"),
    ("extension-definition", "extension_types"),
    ("indicator", "created"),
    ("indicator", "modified"),
    ("x-example-com-customobject", "modified"),
    ("autonomous-system", "number"),
    ("directory", "path"),
    ("domain-name", "value"),
    ("email-addr", "value"),
    ("email-message", "is_multipart"),
    ("ipv4-addr", "value"),
    ("ipv6-addr", "value"),
    ("mac-addr", "value"),
    ("mutex", "name"),
    ("network-traffic", "protocols"),
    ("software", "name"),
    ("url", "value"),
]:
    sdo(f"required-{t}-{p}", t, p, **{p: DEL})

# -- timestamps -------------------------------------------------------------------------------
sdo("created-no-millis", "indicator", "created", created="2024-03-01T10:00:00Z")
sdo("created-space", "indicator", "created", created="2024-03-01 10:00:00.000Z")
sdo("created-offset", "indicator", "created", created="2024-03-01T10:00:00.000+00:00")
sdo("created-lowercase-z", "indicator", "created", created="2024-03-01T10:00:00.000z")
sdo("created-feb-30", "indicator", "created", created="2024-02-30T10:00:00.000Z")
sdo("created-hour-24", "indicator", "created", created="2024-03-01T24:00:00.000Z")
sdo("created-leap-second", "indicator", "created", created="2016-12-31T23:59:60.000Z")
sdo("created-not-string", "indicator", "created", created=1700000000)
sdo("valid-from-date-only", "indicator", "valid_from", valid_from="2024-03-01")
sdo("modified-before-created", "indicator", "modified", modified="2024-02-29T10:00:00.000Z")
sdo(
    "modified-before-created-sub-ms",
    "indicator",
    "modified",
    created="2024-03-01T10:00:00.0000001Z",
    modified="2024-03-01T10:00:00.000Z",
)
sdo("campaign-last-before-first", "campaign", "last_seen", last_seen="2015-01-01T00:00:00Z")
sdo(
    "intrusion-set-last-before-first",
    "intrusion-set",
    "last_seen",
    first_seen="2016-01-01T00:00:00Z",
    last_seen="2015-01-01T00:00:00Z",
)
sdo("threat-actor-last-before-first", "threat-actor", "last_seen", last_seen="2015-01-01T00:00:00Z")
sdo("malware-last-before-first", "malware", "last_seen", last_seen="2015-01-01T00:00:00Z")
sdo(
    "infrastructure-last-before-first",
    "infrastructure",
    "last_seen",
    last_seen="2015-01-01T00:00:00Z",
)
sdo("sighting-last-before-first", "sighting", "last_seen", last_seen="2015-01-01T00:00:00Z")
sdo(
    "observed-data-last-before-first",
    "observed-data",
    "last_observed",
    last_observed="2015-01-01T00:00:00Z",
)
sdo("indicator-valid-until-equal", "indicator", "valid_until", valid_until="2016-01-01T00:00:00Z")
sdo("relationship-stop-equal-start", "relationship", "stop_time", stop_time="2016-01-01T00:00:00Z")
sdo(
    "network-traffic-end-before-start",
    "network-traffic",
    "end",
    start="2016-01-02T00:00:00Z",
    end="2016-01-01T00:00:00Z",
)
sdo(
    "pe-time-date-stamp-fraction",
    "file",
    "extensions.windows-pebinary-ext.time_date_stamp",
    extensions={
        "windows-pebinary-ext": {"pe_type": "exe", "time_date_stamp": "2016-01-22T12:31:12.5Z"}
    },
)

# -- common properties --------------------------------------------------------------------------
sdo("created-by-ref-not-identity", "indicator", "created_by_ref", created_by_ref=f"malware--{U4}")
sdo("created-by-ref-not-identifier", "indicator", "created_by_ref", created_by_ref="ACME")
sdo(
    "marking-refs-not-marking",
    "indicator",
    "object_marking_refs[0]",
    object_marking_refs=[f"identity--{U4}"],
)
sdo("marking-refs-empty", "indicator", "object_marking_refs", object_marking_refs=[])
sdo("marking-refs-string", "indicator", "object_marking_refs", object_marking_refs=markings.TLP_RED)
sdo("labels-empty", "indicator", "labels", labels=[])
sdo("labels-int", "indicator", "labels[0]", labels=[1])
sdo("confidence-101", "indicator", "confidence", confidence=101)
sdo("confidence-negative", "indicator", "confidence", confidence=-1)
sdo("confidence-string", "indicator", "confidence", confidence="high")
sdo("confidence-bool", "indicator", "confidence", confidence=True)
sdo("lang-not-rfc5646", "indicator", "lang", lang="english")
sdo("lang-underscore", "indicator", "lang", lang="en_US")
sdo("revoked-string", "indicator", "revoked", revoked="yes")
sdo(
    "extref-no-source-name",
    "indicator",
    "external_references[0].source_name",
    external_references=[{"url": "https://x.example"}],
)
sdo(
    "extref-only-source-name",
    "indicator",
    "external_references[0]",
    external_references=[{"source_name": "acme"}],
)
sdo(
    "extref-not-list",
    "indicator",
    "external_references",
    external_references={"source_name": "acme", "url": "https://x"},
)
sdo(
    "extref-bad-md5",
    "indicator",
    "external_references[0].hashes.MD5",
    external_references=[{"source_name": "a", "url": "https://x", "hashes": {"MD5": "zz"}}],
)
sdo(
    "extref-hash-key-short",
    "indicator",
    "external_references[0].hashes.md",
    external_references=[{"source_name": "a", "url": "https://x", "hashes": {"md": "00"}}],
)
sdo(
    "kcp-no-phase-name",
    "indicator",
    "kill_chain_phases[0].phase_name",
    kill_chain_phases=[{"kill_chain_name": "x"}],
)
sdo(
    "kcp-phase-name-int",
    "indicator",
    "kill_chain_phases[0].phase_name",
    kill_chain_phases=[{"kill_chain_name": "x", "phase_name": 3}],
)
sdo(
    "granular-no-selectors",
    "indicator",
    "granular_markings[0].selectors",
    granular_markings=[{"marking_ref": markings.TLP_RED}],
)
sdo(
    "granular-both-ref-and-lang",
    "indicator",
    "granular_markings[0]",
    granular_markings=[{"marking_ref": markings.TLP_RED, "lang": "en", "selectors": ["name"]}],
)
sdo(
    "granular-neither-ref-nor-lang",
    "indicator",
    "granular_markings[0]",
    granular_markings=[{"selectors": ["name"]}],
)
sdo(
    "granular-ref-not-marking",
    "indicator",
    "granular_markings[0].marking_ref",
    granular_markings=[{"marking_ref": f"identity--{U4}", "selectors": ["name"]}],
)
sdo(
    "granular-selector-absent",
    "indicator",
    "granular_markings[0].selectors[0]",
    granular_markings=[{"marking_ref": markings.TLP_RED, "selectors": ["nope"]}],
)
sdo(
    "granular-selector-index-out-of-range",
    "indicator",
    "granular_markings[0].selectors[0]",
    granular_markings=[{"marking_ref": markings.TLP_RED, "selectors": ["labels.[5]"]}],
)
sdo(
    "granular-selector-index-on-string",
    "indicator",
    "granular_markings[0].selectors[0]",
    granular_markings=[{"marking_ref": markings.TLP_RED, "selectors": ["name.[0]"]}],
)
sdo(
    "granular-selectors-empty",
    "indicator",
    "granular_markings[0].selectors",
    granular_markings=[{"marking_ref": markings.TLP_RED, "selectors": []}],
)
sdo("defanged-on-sdo", "indicator", "defanged", defanged=True)
sdo("reserved-severity", "indicator", "severity", severity="high")
sdo("reserved-action-on-coa", "course-of-action", "action", action="block")
sdo("reserved-phone-number", "identity", "phone_number", phone_number="+1-555")
sdo("custom-prop-uppercase", "indicator", "x_Foo", x_Foo=1)
sdo("custom-prop-too-short", "indicator", "xy", xy=1)
sdo("custom-prop-leading-underscore", "indicator", "_foo", _foo=1)
sdo("custom-prop-hyphen", "indicator", "x-foo", **{"x-foo": 1})
sdo("custom-prop-null", "indicator", "x_foo", x_foo=None)
sdo("custom-prop-empty-list", "indicator", "x_foo", x_foo=[])
sdo("custom-prop-bad-hex", "indicator", "x_foo_hex", x_foo_hex="abc")
sdo("custom-prop-bad-bin", "indicator", "x_foo_bin", x_foo_bin="not base64!")
sdo("custom-object-prop-uppercase", "x-example-com-customobject", "Other", Other=1)

# -- extensions --------------------------------------------------------------------------------
EXT = "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e"
sdo("extensions-empty", "indicator", "extensions", extensions={})
sdo(
    "extension-def-no-extension-type",
    "indicator",
    f"extensions.{EXT}.extension_type",
    extensions={EXT: {"rank": 5}},
)
sdo(
    "extension-type-bad",
    "indicator",
    f"extensions.{EXT}.extension_type",
    extensions={EXT: {"extension_type": "new-thing"}},
)
sdo(
    "extension-key-bad",
    "indicator",
    "extensions.foo",
    extensions={"foo": {"extension_type": "property-extension"}},
)
sdo(
    "extension-def-id-malformed",
    "indicator",
    "extensions.extension-definition--1234",
    extensions={"extension-definition--1234": {"extension_type": "property-extension"}},
)
sdo("extension-body-empty", "file", "extensions.x-acme-foo-ext", extensions={"x-acme-foo-ext": {}})
sdo(
    "extension-prop-uppercase",
    "indicator",
    f"extensions.{EXT}.Rank",
    extensions={EXT: {"extension_type": "property-extension", "Rank": 5}},
)

# -- indicator patterns ---------------------------------------------------------------------------
sdo("pattern-syntax", "indicator", "pattern", pattern="[file:name = 'a'")
sdo("pattern-no-brackets", "indicator", "pattern", pattern="file:name = 'a'")
sdo("pattern-bad-hash", "indicator", "pattern", pattern="[file:hashes.MD5 = 'zz']")
sdo("pattern-bad-qualifier", "indicator", "pattern", pattern="[file:name = 'a'] WITHIN -5 SECONDS")
sdo("pattern-object-type-uppercase", "indicator", "pattern", pattern="[File:name = 'a']")
sdo("pattern-property-uppercase", "indicator", "pattern", pattern="[file:Name = 'a']")
sdo("pattern-not-string", "indicator", "pattern", pattern=["[file:name = 'a']"])

# -- SDO-specific rules ------------------------------------------------------------------------
sdo("location-lat-without-long", "location", "longitude", latitude=10.0)
sdo("location-long-out-of-range", "location", "longitude", latitude=1.0, longitude=180.5)
sdo("location-lat-out-of-range", "location", "latitude", latitude=-91, longitude=0)
sdo("location-lat-string", "location", "latitude", latitude="48.8", longitude=0)
sdo("location-nothing", "location", None, region=DEL, country=DEL)
case(
    "location-precision-without-coordinates",
    "precision",
    mut("location", "precision", precision=10.0),
)
sdo("malware-family-without-name", "malware", "name", is_family=True, name=DEL)
sdo("malware-is-family-string", "malware", "is_family", is_family="true")
sdo(
    "malware-os-refs-not-software",
    "malware",
    "operating_system_refs[0]",
    operating_system_refs=[f"file--{U4}"],
)
sdo("malware-sample-refs-not-file", "malware", "sample_refs[0]", sample_refs=[f"url--{U4}"])
sdo("malware-analysis-no-result", "malware-analysis", None, result=DEL)
sdo(
    "malware-analysis-host-vm-not-software",
    "malware-analysis",
    "host_vm_ref",
    host_vm_ref=f"file--{U4}",
)
sdo("malware-analysis-sample-ref-wrong", "malware-analysis", "sample_ref", sample_ref=f"url--{U4}")
sdo(
    "observed-data-both-objects-and-refs",
    "observed-data",
    "object_refs",
    objects={"0": {"type": "ipv4-addr", "value": "1.2.3.4"}},
)
sdo("observed-data-neither", "observed-data", "object_refs", object_refs=DEL)
sdo("observed-data-number-0", "observed-data", "number_observed", number_observed=0)
sdo(
    "observed-data-number-too-big",
    "observed-data",
    "number_observed",
    number_observed=1_000_000_000,
)
sdo(
    "observed-data-refs-no-sco", "observed-data", "object_refs", object_refs=[f"relationship--{U4}"]
)
sdo("observed-data-refs-sdo", "observed-data", "object_refs[0]", object_refs=[f"indicator--{U4}"])
sdo("opinion-not-enum", "opinion", "opinion", opinion="meh")
sdo("grouping-refs-bundle", "grouping", "object_refs[0]", object_refs=[f"bundle--{U4}"])
sdo("relationship-type-space", "relationship", "relationship_type", relationship_type="related to")
sdo(
    "relationship-type-uppercase",
    "relationship",
    "relationship_type",
    relationship_type="Indicates",
)
sdo("relationship-source-marking", "relationship", "source_ref", source_ref=markings.TLP_RED)
sdo(
    "relationship-target-relationship",
    "relationship",
    "target_ref",
    target_ref=f"relationship--{U4}",
)
sdo(
    "relationship-target-language-content",
    "relationship",
    "target_ref",
    target_ref=f"language-content--{U4}",
)
sdo("sighting-of-sco", "sighting", "sighting_of_ref", sighting_of_ref=f"ipv4-addr--{U4}")
sdo(
    "sighting-of-relationship", "sighting", "sighting_of_ref", sighting_of_ref=f"relationship--{U4}"
)
sdo(
    "sighting-where-malware",
    "sighting",
    "where_sighted_refs[0]",
    where_sighted_refs=[f"malware--{U4}"],
)
sdo(
    "sighting-observed-indicator",
    "sighting",
    "observed_data_refs[0]",
    observed_data_refs=[f"indicator--{U4}"],
)
sdo("sighting-count-negative", "sighting", "count", count=-1)
sdo("sighting-count-too-big", "sighting", "count", count=1_000_000_000)
sdo("sighting-summary-string", "sighting", "summary", summary="false")
sdo(
    "language-content-bad-lang-key",
    "language-content",
    "contents.deutsch",
    contents={"deutsch": {"name": "x"}},
)
sdo("language-content-value-not-dict", "language-content", "contents.de", contents={"de": "x"})
sdo(
    "language-content-object-ref-bundle",
    "language-content",
    "object_ref",
    object_ref=f"bundle--{U4}",
)
sdo("marking-no-definition", "marking-definition", "definition", definition=DEL)
sdo("marking-definition-not-object", "marking-definition", "definition", definition="Copyright")
sdo(
    "marking-statement-missing",
    "marking-definition",
    "definition.statement",
    definition={"note": "x"},
)
sdo(
    "marking-self-reference",
    "marking-definition",
    "object_marking_refs",
    object_marking_refs=[BASE["marking-definition"]["id"]],
)
case(
    "marking-tlp-nonstandard-id",
    "definition",
    obj({**markings.TLP1_OBJECTS[markings.TLP1_RED], "id": f"marking-definition--{U4}"}),
)
case(
    "marking-tlp-wrong-colour",
    "definition",
    obj({**markings.TLP1_OBJECTS[markings.TLP1_RED], "definition": {"tlp": "white"}}),
)
case(
    "marking-tlp2-wrong-id",
    f"extensions.{markings.TLP2_EXTENSION_ID}.tlp_2_0",
    obj({**markings.TLP2_OBJECTS[markings.TLP_RED], "id": markings.TLP_CLEAR}),
)
sdo(
    "extension-definition-bad-type",
    "extension-definition",
    "extension_types[0]",
    extension_types=["new-thing"],
)
sdo(
    "extension-definition-props-without-toplevel",
    "extension-definition",
    "extension_properties",
    extension_types=["property-extension"],
)
sdo(
    "extension-definition-types-empty",
    "extension-definition",
    "extension_types",
    extension_types=[],
)

# -- SCOs -------------------------------------------------------------------------------------
H64 = "fe90a7e910cb3a4739bed9180e807e93fa70c90f25a8915476f5e4bfbac681db"
sdo("artifact-both-payload-and-url", "artifact", "url", url="https://x.example/a")
sdo("artifact-neither-payload-nor-url", "artifact", "url", payload_bin=DEL)
case(
    "artifact-url-without-hashes",
    "hashes",
    obj({"type": "artifact", "id": f"artifact--{U4}", "url": "https://x.example/a"}),
)
sdo("artifact-key-without-algorithm", "artifact", "decryption_key", decryption_key="k")
sdo("artifact-bad-algorithm", "artifact", "encryption_algorithm", encryption_algorithm="rot13")
sdo("artifact-bad-base64", "artifact", "payload_bin", payload_bin="abc")
sdo("as-number-string", "autonomous-system", "number", number="15139")
sdo("directory-contains-ipv4", "directory", "contains_refs[0]", contains_refs=[f"ipv4-addr--{U4}"])
sdo("directory-path-enc-bad", "directory", "path_enc", path_enc="utf 8")
sdo("domain-resolves-to-url", "domain-name", "resolves_to_refs[0]", resolves_to_refs=[f"url--{U4}"])
sdo(
    "email-addr-belongs-to-identity",
    "email-addr",
    "belongs_to_ref",
    belongs_to_ref=f"identity--{U4}",
)
sdo("email-body-when-multipart", "email-message", "body", is_multipart=True)
sdo("email-multipart-when-not", "email-message", "body_multipart", body_multipart=[{"body": "x"}])
sdo("email-from-not-email-addr", "email-message", "from_ref", from_ref=f"user-account--{U4}")
sdo(
    "email-header-value-not-list",
    "email-message",
    "additional_header_fields.Reply-To",
    additional_header_fields={"Reply-To": "x@example.com"},
)
case(
    "email-mime-part-empty",
    "body_multipart[0]",
    mut(
        "email-message",
        "body_multipart[0]",
        is_multipart=True,
        body=DEL,
        body_multipart=[{"content_type": "text/plain"}],
    ),
)
sdo("email-is-multipart-string", "email-message", "is_multipart", is_multipart="false")
sdo("file-size-negative", "file", "size", size=-1)
sdo("file-bad-md5", "file", "hashes.MD5", hashes={"MD5": "not-a-hash"})
sdo("file-bad-sha256-length", "file", "hashes.SHA-256", hashes={"SHA-256": H64[:-1]})
sdo("file-hashes-empty", "file", "hashes", hashes={})
sdo("file-magic-odd", "file", "magic_number_hex", magic_number_hex="504B030")
sdo("file-parent-not-directory", "file", "parent_directory_ref", parent_directory_ref=f"file--{U4}")
sdo("file-content-not-artifact", "file", "content_ref", content_ref=f"file--{U4}")
sdo("file-name-enc-bad", "file", "name_enc", name_enc="windows 1252")
case("file-no-hashes-no-name", None, obj({"type": "file", "id": f"file--{U4}", "size": 10}))
sdo("file-ntfs-empty", "file", "extensions.ntfs-ext", extensions={"ntfs-ext": {"x_other": 1}})
sdo(
    "file-ntfs-ads-no-name",
    "file",
    "extensions.ntfs-ext.alternate_data_streams[0].name",
    extensions={"ntfs-ext": {"alternate_data_streams": [{"size": 1}]}},
)
sdo(
    "file-pe-no-pe-type",
    "file",
    "extensions.windows-pebinary-ext.pe_type",
    extensions={"windows-pebinary-ext": {"imphash": "x"}},
)
sdo(
    "file-pe-only-pe-type",
    "file",
    "extensions.windows-pebinary-ext",
    extensions={"windows-pebinary-ext": {"pe_type": "exe"}},
)
sdo(
    "file-pe-header-empty",
    "file",
    "extensions.windows-pebinary-ext.optional_header",
    extensions={"windows-pebinary-ext": {"pe_type": "exe", "optional_header": {}}},
)
sdo(
    "file-archive-no-contains",
    "file",
    "extensions.archive-ext.contains_refs",
    extensions={"archive-ext": {"comment": "x"}},
)
sdo(
    "file-archive-contains-ipv4",
    "file",
    "extensions.archive-ext.contains_refs[0]",
    extensions={"archive-ext": {"contains_refs": [f"ipv4-addr--{U4}"]}},
)
sdo(
    "file-raster-exif-list",
    "file",
    "extensions.raster-image-ext.exif_tags.Make",
    extensions={"raster-image-ext": {"exif_tags": {"Make": ["Nikon"]}}},
)
sdo(
    "file-pdf-optimized-string",
    "file",
    "extensions.pdf-ext.is_optimized",
    extensions={"pdf-ext": {"is_optimized": "yes"}},
)
sdo("ipv4-out-of-range", "ipv4-addr", "value", value="256.1.1.1", id=f"ipv4-addr--{U4}")
sdo("ipv4-leading-zero", "ipv4-addr", "value", value="010.1.1.1", id=f"ipv4-addr--{U4}")
sdo("ipv4-bad-prefix", "ipv4-addr", "value", value="10.1.1.0/33", id=f"ipv4-addr--{U4}")
sdo(
    "ipv4-resolves-to-domain",
    "ipv4-addr",
    "resolves_to_refs[0]",
    resolves_to_refs=[f"domain-name--{U4}"],
)
sdo("ipv6-bad", "ipv6-addr", "value", value="2001:db8:::1", id=f"ipv6-addr--{U4}")
sdo("mac-uppercase", "mac-addr", "value", value="D2:FB:49:24:37:18", id=f"mac-addr--{U4}")
sdo("mac-dashes", "mac-addr", "value", value="d2-fb-49-24-37-18", id=f"mac-addr--{U4}")
sdo("nt-no-src-no-dst", "network-traffic", None, src_ref=DEL, dst_ref=DEL)
sdo("nt-port-too-big", "network-traffic", "src_port", src_port=70000)
sdo(
    "nt-active-with-end",
    "network-traffic",
    "end",
    is_active=True,
    start="2016-01-01T00:00:00Z",
    end="2016-01-01T00:01:00Z",
)
sdo("nt-src-ref-url", "network-traffic", "src_ref", src_ref=f"url--{U4}")
sdo("nt-protocols-empty", "network-traffic", "protocols", protocols=[])
sdo(
    "nt-http-no-request-value",
    "network-traffic",
    "extensions.http-request-ext.request_value",
    extensions={"http-request-ext": {"request_method": "get"}},
)
sdo(
    "nt-socket-bad-family",
    "network-traffic",
    "extensions.socket-ext.address_family",
    extensions={"socket-ext": {"address_family": "AF_FOO"}},
)
sdo(
    "nt-icmp-no-code",
    "network-traffic",
    "extensions.icmp-ext.icmp_code_hex",
    extensions={"icmp-ext": {"icmp_type_hex": "08"}},
)
sdo("nt-tcp-empty", "network-traffic", "extensions.tcp-ext", extensions={"tcp-ext": {"x_flag": 1}})
sdo("nt-ipfix-list-value", "network-traffic", "ipfix.foo", ipfix={"foo": [1]})
case("process-no-properties", None, obj({"type": "process", "id": f"process--{U4}"}))
sdo("process-parent-not-process", "process", "parent_ref", parent_ref=f"file--{U4}")
sdo(
    "process-bad-integrity-level",
    "process",
    "extensions.windows-process-ext.integrity_level",
    extensions={"windows-process-ext": {"integrity_level": "root"}},
)
sdo(
    "process-bad-start-type",
    "process",
    "extensions.windows-service-ext.start_type",
    extensions={"windows-service-ext": {"start_type": "AUTO"}},
)
sdo(
    "process-env-value-int",
    "process",
    "environment_variables.PATH",
    environment_variables={"PATH": 1},
)
sdo("process-uuid5-id", "process", "id", id=f"process--{U5}")
sdo("software-bad-cpe", "software", "cpe", cpe="microsoft word 2000", id=f"software--{U4}")
sdo("software-bad-language", "software", "languages[0]", languages=["english"])
case("user-account-no-properties", None, obj({"type": "user-account", "id": f"user-account--{U4}"}))
sdo(
    "user-account-unix-empty",
    "user-account",
    "extensions.unix-account-ext",
    extensions={"unix-account-ext": {"x_shell": "sh"}},
)
sdo("user-account-privileged-string", "user-account", "is_privileged", is_privileged="no")
case(
    "registry-no-properties",
    None,
    obj({"type": "windows-registry-key", "id": f"windows-registry-key--{U4}"}),
)
sdo(
    "registry-abbreviated-hive",
    "windows-registry-key",
    "key",
    key="HKLM\\Software\\Foo",
    id=f"windows-registry-key--{U4}",
)
sdo(
    "registry-bad-data-type",
    "windows-registry-key",
    "values[0].data_type",
    values=[{"name": "x", "data_type": "REG_FOO"}],
    id=f"windows-registry-key--{U4}",
)
sdo(
    "registry-value-empty",
    "windows-registry-key",
    "values[0]",
    values=[{}],
    id=f"windows-registry-key--{U4}",
)
case("x509-no-properties", None, obj({"type": "x509-certificate", "id": f"x509-certificate--{U4}"}))
sdo("x509-v3-extensions-empty", "x509-certificate", "x509_v3_extensions", x509_v3_extensions={})
sdo(
    "x509-exponent-string",
    "x509-certificate",
    "subject_public_key_exponent",
    subject_public_key_exponent="65537",
)

# -- SCO identifiers ------------------------------------------------------------------------------
sdo("sco-uuid5-mismatch", "ipv4-addr", "id", id=f"ipv4-addr--{U5}")
sdo("sco-id-type-mismatch", "ipv4-addr", "id", id=f"ipv6-addr--{U4}")
case(
    "sco-no-contributing-props-uuid5",
    "id",
    obj({"type": "x509-certificate", "id": f"x509-certificate--{U5}", "issuer": "CN=x"}),
)
