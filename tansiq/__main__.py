"""``python -m tansiq`` runs the command-line interface."""

from __future__ import annotations

from tansiq.cli.main import main

main()
