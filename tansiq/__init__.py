"""Tansiq: a federated threat-intelligence sharing platform (STIX 2.1 / TAXII 2.1)."""

from __future__ import annotations

__version__ = "0.1.0"
