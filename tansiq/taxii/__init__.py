"""The TAXII 2.1 server: ``create_app(settings, store)`` builds the ASGI application."""

from __future__ import annotations

from tansiq.taxii.app import create_app
from tansiq.taxii.settings import Settings

__all__ = ["Settings", "create_app"]
