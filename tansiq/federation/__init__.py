"""Federation: Tansiq instances and other TAXII 2.1 servers as peers (client, pull, push)."""
