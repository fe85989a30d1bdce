"""Property tables of the STIX Cyber-observable Objects (§6) and their predefined
extensions (§3.10)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from . import props as p
from . import vocab
from .schema import SCO_REQUIRED, TypeSpec, spec

__all__ = ["OBSERVABLE_SPECS", "known_properties"]

S = p.string
SL = p.string_list
TS = p.timestamp
NN = p.non_negative
INT = p.any_int
B = p.boolean
H = p.hashes
HEX = p.hex_


def _ref(*types: str) -> p.Checker:
    return p.ref(types, " or ".join(types))


def _refs(*types: str) -> p.Checker:
    return p.refs(types, " or ".join(types))


def _sco(
    type_: str, specific: dict[str, p.Checker], required: tuple[str, ...] = (), **kw: Any
) -> TypeSpec:
    return spec(type_, "sco", specific, required, base_required=SCO_REQUIRED, **kw)


def _at_least_one(type_: str, names: tuple[str, ...]) -> Any:
    def check(o: dict[str, Any]) -> None:
        if not any(n in o for n in names):
            raise p.Bad(f"a {type_} object must have at least one of its specific properties (§6)")

    return check


# -- value formats (not checked on objects marked defanged) -------------------------------------

_IPV4_RE = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
    r"(?:/(?:3[0-2]|[12][0-9]|[0-9]))?"
)
_MAC_RE = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")


def _ipv4(o: dict[str, Any]) -> None:
    if o.get("defanged") is not True and _IPV4_RE.fullmatch(o["value"]) is None:
        raise p.Bad("must be an IPv4 address or CIDR block (§6.8)", "value")


def _ipv6(o: dict[str, Any]) -> None:
    if o.get("defanged") is True:
        return
    value = o["value"]
    addr, _, prefix = value.partition("/")
    try:
        ipaddress.IPv6Address(addr)
        ok = prefix == "" or (
            prefix.isdigit()
            and prefix.isascii()
            and int(prefix) <= 128
            and prefix == str(int(prefix))
        )
    except ValueError:
        ok = False
    if not ok:
        raise p.Bad("must be an IPv6 address or CIDR block (§6.9)", "value")


def _mac(o: dict[str, Any]) -> None:
    if o.get("defanged") is not True and _MAC_RE.fullmatch(o["value"]) is None:
        raise p.Bad("must be a colon-delimited, lowercase MAC-48 address (§6.10)", "value")


# -- SCO constraints ------------------------------------------------------------------------------


def _artifact(o: dict[str, Any]) -> None:
    if ("payload_bin" in o) == ("url" in o):
        raise p.Bad("exactly one of payload_bin and url must be present (§6.1)", "url")
    if "url" in o and "hashes" not in o:
        raise p.Bad("hashes is required when url is present (§6.1)", "hashes")
    if "decryption_key" in o and "encryption_algorithm" not in o:
        raise p.Bad("decryption_key needs encryption_algorithm (§6.1)", "decryption_key")


def _email_message(o: dict[str, Any]) -> None:
    if o["is_multipart"] is True and "body" in o:
        raise p.Bad("body must not be used when is_multipart is true (§6.6)", "body")
    if o["is_multipart"] is False and "body_multipart" in o:
        raise p.Bad(
            "body_multipart must not be used when is_multipart is false (§6.6)", "body_multipart"
        )


def _file(o: dict[str, Any]) -> None:
    if "hashes" not in o and "name" not in o:
        raise p.Bad("a file must have hashes or name (§6.7)")


def _network_traffic(o: dict[str, Any]) -> None:
    if "src_ref" not in o and "dst_ref" not in o:
        raise p.Bad("network-traffic needs src_ref or dst_ref (§6.12)")
    if o.get("is_active") is True and "end" in o:
        raise p.Bad("end must not be present when is_active is true (§6.12)", "end")


_PROCESS_PROPS = (
    "is_hidden",
    "pid",
    "created_time",
    "cwd",
    "command_line",
    "environment_variables",
    "opened_connection_refs",
    "creator_user_ref",
    "image_ref",
    "parent_ref",
    "child_refs",
    "extensions",
)
_USER_ACCOUNT_PROPS = (
    "user_id",
    "credential",
    "account_login",
    "account_type",
    "display_name",
    "is_service_account",
    "is_privileged",
    "can_escalate_privs",
    "is_disabled",
    "account_created",
    "account_expires",
    "credential_last_changed",
    "account_first_login",
    "account_last_login",
)
_X509_PROPS = (
    "is_self_signed",
    "hashes",
    "version",
    "serial_number",
    "signature_algorithm",
    "issuer",
    "validity_not_before",
    "validity_not_after",
    "subject",
    "subject_public_key_algorithm",
    "subject_public_key_modulus",
    "subject_public_key_exponent",
    "x509_v3_extensions",
)
_HIVE_ABBREV_RE = re.compile(r"(?:HKLM|HKCC|HKCR|HKCU|HKU)(?:\\|$)", re.IGNORECASE)


def _registry_key(o: dict[str, Any]) -> None:
    if not any(
        n in o for n in ("key", "values", "modified_time", "creator_user_ref", "number_of_subkeys")
    ):
        raise p.Bad(
            "a windows-registry-key object must have at least one of its specific properties (§6.17)"
        )
    key = o.get("key")
    if type(key) is str and _HIVE_ABBREV_RE.match(key):
        raise p.Bad("the hive must be fully expanded, e.g. HKEY_LOCAL_MACHINE (§6.17)", "key")


def _cpe(v: Any) -> None:
    if type(v) is not str or not vocab.is_cpe23(v):
        raise p.Bad("must be a CPE 2.3 formatted string (§6.14)")


# -- predefined extensions ------------------------------------------------------------------------

_ADS = p.ObjSpec(
    "alternate-data-stream", {"name": S, "hashes": H, "size": NN}, required=("name",), custom=False
)
_NTFS = p.ObjSpec(
    "ntfs-ext",
    {"sid": S, "alternate_data_streams": p.list_of(_ADS)},
    at_least_one=("sid", "alternate_data_streams"),
)
_RASTER = p.ObjSpec(
    "raster-image-ext",
    {
        "image_height": INT,
        "image_width": INT,
        "bits_per_pixel": INT,
        "exif_tags": p.dict_of(p.int_or_string, "EXIF values are integers or strings"),
    },
    at_least_one=("image_height", "image_width", "bits_per_pixel", "exif_tags"),
)
_PDF = p.ObjSpec(
    "pdf-ext",
    {
        "version": S,
        "is_optimized": B,
        "document_info_dict": p.dict_of(S, "values must be strings"),
        "pdfid0": S,
        "pdfid1": S,
    },
    at_least_one=("version", "is_optimized", "document_info_dict", "pdfid0", "pdfid1"),
)
_ARCHIVE = p.ObjSpec(
    "archive-ext",
    {"contains_refs": _refs("file", "directory"), "comment": S},
    required=("contains_refs",),
)
_OPTIONAL_HEADER_PROPS: dict[str, p.Checker] = {
    "magic_hex": HEX,
    "major_linker_version": INT,
    "minor_linker_version": INT,
    "size_of_code": NN,
    "size_of_initialized_data": NN,
    "size_of_uninitialized_data": NN,
    "address_of_entry_point": INT,
    "base_of_code": INT,
    "base_of_data": INT,
    "image_base": INT,
    "section_alignment": INT,
    "file_alignment": INT,
    "major_os_version": INT,
    "minor_os_version": INT,
    "major_image_version": INT,
    "minor_image_version": INT,
    "major_subsystem_version": INT,
    "minor_subsystem_version": INT,
    "win32_version_value_hex": HEX,
    "size_of_image": NN,
    "size_of_headers": NN,
    "checksum_hex": HEX,
    "subsystem_hex": HEX,
    "dll_characteristics_hex": HEX,
    "size_of_stack_reserve": NN,
    "size_of_stack_commit": NN,
    "size_of_heap_reserve": NN,
    "size_of_heap_commit": NN,
    "loader_flags_hex": HEX,
    "number_of_rva_and_sizes": INT,
    "hashes": H,
}
_OPTIONAL_HEADER = p.ObjSpec(
    "windows-pe-optional-header",
    _OPTIONAL_HEADER_PROPS,
    at_least_one=tuple(_OPTIONAL_HEADER_PROPS),
    custom=False,
)
_SECTION = p.ObjSpec(
    "windows-pe-section",
    {"name": S, "size": NN, "entropy": p.number(), "hashes": H},
    required=("name",),
)
_PE_PROPS: dict[str, p.Checker] = {
    "pe_type": S,
    "imphash": S,
    "machine_hex": HEX,
    "number_of_sections": NN,
    "time_date_stamp": p.timestamp_seconds,
    "pointer_to_symbol_table_hex": HEX,
    "number_of_symbols": NN,
    "size_of_optional_header": NN,
    "characteristics_hex": HEX,
    "file_header_hashes": H,
    "optional_header": _OPTIONAL_HEADER,
    "sections": p.list_of(_SECTION),
}
_PE = p.ObjSpec(
    "windows-pebinary-ext",
    _PE_PROPS,
    required=("pe_type",),
    at_least_one=tuple(k for k in _PE_PROPS if k != "pe_type"),
)
_HTTP = p.ObjSpec(
    "http-request-ext",
    {
        "request_method": S,
        "request_value": S,
        "request_version": S,
        "request_header": p.dict_of(SL, "header values are lists of strings"),
        "message_body_length": INT,
        "message_body_data_ref": _ref("artifact"),
    },
    required=("request_method", "request_value"),
)
_ICMP = p.ObjSpec(
    "icmp-ext",
    {"icmp_type_hex": HEX, "icmp_code_hex": HEX},
    required=("icmp_type_hex", "icmp_code_hex"),
)
_SOCKET = p.ObjSpec(
    "socket-ext",
    {
        "address_family": p.enum(vocab.SOCKET_ADDRESS_FAMILY, "network-socket-address-family-enum"),
        "is_blocking": B,
        "is_listening": B,
        "options": p.dict_of(INT, "option values are integers"),
        "socket_type": p.enum(vocab.SOCKET_TYPE, "network-socket-type-enum"),
        "socket_descriptor": NN,
        "socket_handle": INT,
    },
    required=("address_family",),
)
_TCP = p.ObjSpec(
    "tcp-ext",
    {"src_flags_hex": HEX, "dst_flags_hex": HEX},
    at_least_one=("src_flags_hex", "dst_flags_hex"),
)
_WIN_PROCESS_PROPS: dict[str, p.Checker] = {
    "aslr_enabled": B,
    "dep_enabled": B,
    "priority": S,
    "owner_sid": S,
    "window_title": S,
    "startup_info": p.dictionary,
    "integrity_level": p.enum(vocab.WINDOWS_INTEGRITY_LEVEL, "windows-integrity-level-enum"),
}
_WIN_PROCESS = p.ObjSpec(
    "windows-process-ext", _WIN_PROCESS_PROPS, at_least_one=tuple(_WIN_PROCESS_PROPS)
)
_WIN_SERVICE_PROPS: dict[str, p.Checker] = {
    "service_name": S,
    "descriptions": SL,
    "display_name": S,
    "group_name": S,
    "start_type": p.enum(vocab.WINDOWS_SERVICE_START_TYPE, "windows-service-start-type-enum"),
    "service_dll_refs": _refs("file"),
    "service_type": p.enum(vocab.WINDOWS_SERVICE_TYPE, "windows-service-type-enum"),
    "service_status": p.enum(vocab.WINDOWS_SERVICE_STATUS, "windows-service-status-enum"),
}
_WIN_SERVICE = p.ObjSpec(
    "windows-service-ext", _WIN_SERVICE_PROPS, at_least_one=tuple(_WIN_SERVICE_PROPS)
)
_UNIX_ACCOUNT = p.ObjSpec(
    "unix-account-ext",
    {"gid": INT, "groups": SL, "home_dir": S, "shell": S},
    at_least_one=("gid", "groups", "home_dir", "shell"),
)
_MIME_PART = p.ObjSpec(
    "email-mime-part",
    {
        "body": S,
        "body_raw_ref": _ref("artifact", "file"),
        "content_type": S,
        "content_disposition": S,
    },
    at_least_one=("body", "body_raw_ref"),
    custom=False,
)
_REGISTRY_VALUE = p.ObjSpec(
    "windows-registry-value",
    {
        "name": S,
        "data": S,
        "data_type": p.enum(vocab.WINDOWS_REGISTRY_DATATYPE, "windows-registry-datatype-enum"),
    },
    at_least_one=("name", "data", "data_type"),
    custom=False,
)
_X509_EXT_PROPS: dict[str, p.Checker] = {
    k: S
    for k in (
        "basic_constraints",
        "name_constraints",
        "policy_constraints",
        "key_usage",
        "extended_key_usage",
        "subject_key_identifier",
        "authority_key_identifier",
        "subject_alternative_name",
        "issuer_alternative_name",
        "subject_directory_attributes",
        "crl_distribution_points",
        "inhibit_any_policy",
        "certificate_policies",
        "policy_mappings",
    )
}
_X509_EXT_PROPS["private_key_usage_period_not_before"] = TS
_X509_EXT_PROPS["private_key_usage_period_not_after"] = TS
_X509_EXT = p.ObjSpec(
    "x509-v3-extensions", _X509_EXT_PROPS, at_least_one=tuple(_X509_EXT_PROPS), custom=False
)

_ADDR = ("ipv4-addr", "ipv6-addr", "mac-addr", "domain-name")

_SPECS = [
    _sco(
        "artifact",
        {
            "mime_type": S,
            "payload_bin": p.binary,
            "url": S,
            "hashes": H,
            "encryption_algorithm": p.enum(vocab.ENCRYPTION_ALGORITHM, "encryption-algorithm-enum"),
            "decryption_key": S,
        },
        extra=_artifact,
    ),
    _sco("autonomous-system", {"number": INT, "name": S, "rir": S}, ("number",)),
    _sco(
        "directory",
        {
            "path": S,
            "path_enc": p.charset,
            "ctime": TS,
            "mtime": TS,
            "atime": TS,
            "contains_refs": _refs("file", "directory"),
        },
        ("path",),
    ),
    _sco(
        "domain-name",
        {"value": S, "resolves_to_refs": _refs("ipv4-addr", "ipv6-addr", "domain-name")},
        ("value",),
    ),
    _sco(
        "email-addr",
        {"value": S, "display_name": S, "belongs_to_ref": _ref("user-account")},
        ("value",),
    ),
    _sco(
        "email-message",
        {
            "is_multipart": B,
            "date": TS,
            "content_type": S,
            "from_ref": _ref("email-addr"),
            "sender_ref": _ref("email-addr"),
            "to_refs": _refs("email-addr"),
            "cc_refs": _refs("email-addr"),
            "bcc_refs": _refs("email-addr"),
            "message_id": S,
            "subject": S,
            "received_lines": SL,
            "additional_header_fields": p.dict_of(SL, "header values are lists of strings"),
            "body": S,
            "body_multipart": p.list_of(_MIME_PART),
            "raw_email_ref": _ref("artifact"),
        },
        ("is_multipart",),
        extra=_email_message,
    ),
    _sco(
        "file",
        {
            "hashes": H,
            "size": NN,
            "name": S,
            "name_enc": p.charset,
            "magic_number_hex": HEX,
            "mime_type": S,
            "ctime": TS,
            "mtime": TS,
            "atime": TS,
            "parent_directory_ref": _ref("directory"),
            "contains_refs": p.refs(p.SCO_ONLY, "an SCO"),
            "content_ref": _ref("artifact"),
        },
        extra=_file,
        extensions={
            "ntfs-ext": _NTFS,
            "raster-image-ext": _RASTER,
            "pdf-ext": _PDF,
            "archive-ext": _ARCHIVE,
            "windows-pebinary-ext": _PE,
        },
    ),
    _sco(
        "ipv4-addr",
        {
            "value": S,
            "resolves_to_refs": _refs("mac-addr"),
            "belongs_to_refs": _refs("autonomous-system"),
        },
        ("value",),
        extra=_ipv4,
    ),
    _sco(
        "ipv6-addr",
        {
            "value": S,
            "resolves_to_refs": _refs("mac-addr"),
            "belongs_to_refs": _refs("autonomous-system"),
        },
        ("value",),
        extra=_ipv6,
    ),
    _sco("mac-addr", {"value": S}, ("value",), extra=_mac),
    _sco("mutex", {"name": S}, ("name",)),
    _sco(
        "network-traffic",
        {
            "start": TS,
            "end": TS,
            "is_active": B,
            "src_ref": _ref(*_ADDR),
            "dst_ref": _ref(*_ADDR),
            "src_port": p.integer(0, 65535),
            "dst_port": p.integer(0, 65535),
            "protocols": SL,
            "src_byte_count": NN,
            "dst_byte_count": NN,
            "src_packets": NN,
            "dst_packets": NN,
            "ipfix": p.dict_of(p.int_or_string, "IPFIX values are integers or strings"),
            "src_payload_ref": _ref("artifact"),
            "dst_payload_ref": _ref("artifact"),
            "encapsulates_refs": _refs("network-traffic"),
            "encapsulated_by_ref": _ref("network-traffic"),
        },
        ("protocols",),
        order=(("end", "start", False),),
        extra=_network_traffic,
        extensions={
            "http-request-ext": _HTTP,
            "icmp-ext": _ICMP,
            "socket-ext": _SOCKET,
            "tcp-ext": _TCP,
        },
    ),
    _sco(
        "process",
        {
            "is_hidden": B,
            "pid": INT,
            "created_time": TS,
            "cwd": S,
            "command_line": S,
            "environment_variables": p.dict_of(S, "values must be strings"),
            "opened_connection_refs": _refs("network-traffic"),
            "creator_user_ref": _ref("user-account"),
            "image_ref": _ref("file"),
            "parent_ref": _ref("process"),
            "child_refs": _refs("process"),
        },
        extra=_at_least_one("process", _PROCESS_PROPS),
        extensions={"windows-process-ext": _WIN_PROCESS, "windows-service-ext": _WIN_SERVICE},
    ),
    _sco(
        "software",
        {
            "name": S,
            "cpe": _cpe,
            "swid": S,
            "languages": p.list_of(p.lang),
            "vendor": S,
            "version": S,
        },
        ("name",),
    ),
    _sco("url", {"value": S}, ("value",)),
    _sco(
        "user-account",
        {
            "user_id": S,
            "credential": S,
            "account_login": S,
            "account_type": S,
            "display_name": S,
            "is_service_account": B,
            "is_privileged": B,
            "can_escalate_privs": B,
            "is_disabled": B,
            "account_created": TS,
            "account_expires": TS,
            "credential_last_changed": TS,
            "account_first_login": TS,
            "account_last_login": TS,
        },
        extra=_at_least_one("user-account", _USER_ACCOUNT_PROPS),
        extensions={"unix-account-ext": _UNIX_ACCOUNT},
    ),
    _sco(
        "windows-registry-key",
        {
            "key": S,
            "values": p.list_of(_REGISTRY_VALUE),
            "modified_time": TS,
            "creator_user_ref": _ref("user-account"),
            "number_of_subkeys": INT,
        },
        extra=_registry_key,
    ),
    _sco(
        "x509-certificate",
        {
            "is_self_signed": B,
            "hashes": H,
            "version": S,
            "serial_number": S,
            "signature_algorithm": S,
            "issuer": S,
            "validity_not_before": TS,
            "validity_not_after": TS,
            "subject": S,
            "subject_public_key_algorithm": S,
            "subject_public_key_modulus": S,
            "subject_public_key_exponent": INT,
            "x509_v3_extensions": _X509_EXT,
        },
        extra=_at_least_one("x509-certificate", _X509_PROPS),
    ),
]

OBSERVABLE_SPECS: dict[str, TypeSpec] = {s.type: s for s in _SPECS}


def known_properties() -> dict[str, frozenset[str]]:
    """Property names of each SCO type (common ones included)."""
    return {
        t: frozenset(s.props) | {"type", "id", "spec_version", "extensions"}
        for t, s in OBSERVABLE_SPECS.items()
    }
