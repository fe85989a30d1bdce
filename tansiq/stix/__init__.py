"""STIX 2.1: validation and normalisation, identifiers, timestamps, markings, patterns.

The functions the rest of Tansiq uses:

* :func:`check_object` / :func:`check_bundle` -- MUST-level validation, 2.0 -> 2.1
  upgrade, SCO deterministic ids;
* :func:`sco_id`, :func:`is_valid_identifier`, :func:`is_sco` -- identifiers;
* :func:`parse_timestamp`, :func:`timestamp_key`, :func:`format_timestamp`;
* :func:`version_of`;
* TLP constants and :func:`tlp_of`;
* :func:`check_pattern` -- STIX patterning.
"""

from __future__ import annotations

from .bundle import CheckResult, check_bundle
from .ids import SCO_TYPES, SDO_TYPES, SRO_TYPES, is_sco, is_valid_identifier, sco_id
from .markings import (
    TLP2_BY_ID,
    TLP2_BY_NAME,
    TLP2_OBJECTS,
    TLP_AMBER,
    TLP_AMBER_STRICT,
    TLP_CLEAR,
    TLP_GREEN,
    TLP_RED,
    tlp_of,
)
from .patterns import check_pattern
from .timestamps import format_timestamp, parse_timestamp, timestamp_key
from .validate import check_object
from .versioning import version_of

__all__ = [
    "SCO_TYPES",
    "SDO_TYPES",
    "SRO_TYPES",
    "TLP2_BY_ID",
    "TLP2_BY_NAME",
    "TLP2_OBJECTS",
    "TLP_AMBER",
    "TLP_AMBER_STRICT",
    "TLP_CLEAR",
    "TLP_GREEN",
    "TLP_RED",
    "CheckResult",
    "check_bundle",
    "check_object",
    "check_pattern",
    "format_timestamp",
    "is_sco",
    "is_valid_identifier",
    "parse_timestamp",
    "sco_id",
    "timestamp_key",
    "tlp_of",
    "version_of",
]
