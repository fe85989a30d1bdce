"""Export: write stored versions out (STIX bundles; later feeds)."""
