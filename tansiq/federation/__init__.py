"""Federation: partner instances (any TAXII 2.1 server) pull and push over TAXII 2.1.

``client``: our TAXII 2.1 client. ``peers``: the peer registry and its stored state.
``secrets``: peer credentials encrypted at rest. ``outbound``: what a peer may receive.
``pull`` / ``push``: one mapping each way. ``sync``: a whole peer, backoff, scheduling.
``status``: lag and errors per peer and mapping.
"""
