"""STIX 2.1 enumerations (§10, the closed ones only) and syntactic value formats.

Open vocabularies are SHOULD-level and are not enforced anywhere in Tansiq.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = [
    "ENCRYPTION_ALGORITHM",
    "EXTENSION_TYPE",
    "OPINION",
    "SOCKET_ADDRESS_FAMILY",
    "SOCKET_TYPE",
    "WINDOWS_INTEGRITY_LEVEL",
    "WINDOWS_REGISTRY_DATATYPE",
    "WINDOWS_SERVICE_START_TYPE",
    "WINDOWS_SERVICE_STATUS",
    "WINDOWS_SERVICE_TYPE",
    "is_charset_name",
    "is_cpe23",
    "is_language_tag",
]

ENCRYPTION_ALGORITHM = frozenset({"AES-256-GCM", "ChaCha20-Poly1305", "mime-type-indicated"})
EXTENSION_TYPE = frozenset(
    {"new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension"}
)
SOCKET_ADDRESS_FAMILY = frozenset(
    {
        "AF_UNSPEC",
        "AF_INET",
        "AF_IPX",
        "AF_APPLETALK",
        "AF_NETBIOS",
        "AF_INET6",
        "AF_IRDA",
        "AF_BTH",
    }
)
SOCKET_TYPE = frozenset({"SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "SOCK_RDM", "SOCK_SEQPACKET"})
OPINION = frozenset({"strongly-disagree", "disagree", "neutral", "agree", "strongly-agree"})
WINDOWS_INTEGRITY_LEVEL = frozenset({"low", "medium", "high", "system"})
WINDOWS_REGISTRY_DATATYPE = frozenset(
    {
        "REG_NONE",
        "REG_SZ",
        "REG_EXPAND_SZ",
        "REG_BINARY",
        "REG_DWORD",
        "REG_DWORD_BIG_ENDIAN",
        "REG_DWORD_LITTLE_ENDIAN",
        "REG_LINK",
        "REG_MULTI_SZ",
        "REG_RESOURCE_LIST",
        "REG_FULL_RESOURCE_DESCRIPTION",
        "REG_RESOURCE_REQUIREMENTS_LIST",
        "REG_QWORD",
        "REG_INVALID_TYPE",
    }
)
WINDOWS_SERVICE_START_TYPE = frozenset(
    {
        "SERVICE_AUTO_START",
        "SERVICE_BOOT_START",
        "SERVICE_DEMAND_START",
        "SERVICE_DISABLED",
        "SERVICE_SYSTEM_ALERT",
    }
)
WINDOWS_SERVICE_TYPE = frozenset(
    {
        "SERVICE_KERNEL_DRIVER",
        "SERVICE_FILE_SYSTEM_DRIVER",
        "SERVICE_WIN32_OWN_PROCESS",
        "SERVICE_WIN32_SHARE_PROCESS",
    }
)
WINDOWS_SERVICE_STATUS = frozenset(
    {
        "SERVICE_CONTINUE_PENDING",
        "SERVICE_PAUSE_PENDING",
        "SERVICE_PAUSED",
        "SERVICE_RUNNING",
        "SERVICE_START_PENDING",
        "SERVICE_STOP_PENDING",
        "SERVICE_STOPPED",
    }
)

# RFC 5646 §2.1 language tag (langtag | privateuse | grandfathered), case-insensitive. The
# primary language subtag is 2-3 letters: 4 letters are reserved and no 5-8 letter subtag
# is registered (§2.2.1), so e.g. "english" is refused.
_LANGTAG = r"""
    [a-z]{2,3}(?:-[a-z]{3}){0,3}                            # language (+ extlang)
    (?:-[a-z]{4})?                                          # script
    (?:-(?:[a-z]{2}|[0-9]{3}))?                             # region
    (?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*                # variants
    (?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*                     # extensions
    (?:-x(?:-[a-z0-9]{1,8})+)?                              # private use
"""
_LANG_RE = re.compile(
    rf"(?:{_LANGTAG}|x(?:-[a-z0-9]{{1,8}})+|i-(?:ami|bnn|default|enochian|hak|klingon|lux|mingo"
    rf"|navajo|pwn|tao|tay|tsu)|en-gb-oed|sgn-(?:be-fr|be-nl|ch-de))",
    re.VERBOSE | re.IGNORECASE | re.ASCII,
)


@lru_cache(maxsize=4096)
def is_language_tag(s: str) -> bool:
    """RFC 5646 (BCP 47) syntax check of a language tag."""
    return _LANG_RE.fullmatch(s) is not None


# IANA character-set names (RFC 2978 "mime-charset" tokens, at most 40 characters).
_CHARSET_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$%&'+^_`{}~().:-]{0,39}")


def is_charset_name(s: str) -> bool:
    """Syntactic check of an IANA character set name (the registry itself is not consulted)."""
    return _CHARSET_RE.fullmatch(s) is not None


# CPE 2.3 formatted string binding (NIST IR 7695 §6.2).
_CPE_VALUE = r"(?:\*|-|[*?]*(?:[A-Za-z0-9._-]|\\[\\*?!\"#$%&'()+,/:;<=>@\[\]^`{|}~])+[*?]*)"
_CPE_LANG = r"(?:\*|-|[A-Za-z]{2,3}(?:-(?:[A-Za-z]{2}|[0-9]{3}))?)"
_CPE_RE = re.compile(rf"cpe:2\.3:[aho*-](?::{_CPE_VALUE}){{5}}:{_CPE_LANG}(?::{_CPE_VALUE}){{4}}")


def is_cpe23(s: str) -> bool:
    """True for a CPE 2.3 formatted string (``cpe:2.3:part:vendor:product:...``)."""
    return _CPE_RE.fullmatch(s) is not None
