"""The ``tansiq`` command: thin adapters over the library."""
