"""Server settings (everything ``create_app`` needs besides the store)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    title: str = "Tansiq TAXII 2.1 server"
    description: str | None = "Federated threat-intelligence sharing (STIX 2.1 / TAXII 2.1)"
    contact: str | None = None
    default_api_root: str | None = "default"
    default_page_size: int = 1000
    max_page_size: int = 10_000
    status_ttl_seconds: int = 7 * 24 * 3600  # status resources are kept a week (spec: >= 24 h)
    public_base_url: str | None = None  # e.g. https://taxii.example.org (behind a proxy)
    # federation: the peer credentials key file; None disables the sync scheduler
    peer_key_file: str | None = None
    federation_tick_seconds: float = 5.0
