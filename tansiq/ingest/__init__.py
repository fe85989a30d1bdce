"""Ingest: turn incoming content (bundles, envelopes, files) into stored versions."""
