"""Access control: credentials, principals, collection permissions and administration."""
