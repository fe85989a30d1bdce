"""Peer credentials, encrypted at rest with a key kept outside the database.

The key is a Fernet key in a file only the operator can read (mode 0600): the file
named by TANSIQ_PEER_KEY_FILE, else ``<database file>.peer-key`` beside an SQLite
database, else ``~/.config/tansiq/peer-key`` (PostgreSQL; copy it to every host that
runs ``serve`` or ``sync``). A database dump alone never reveals a partner's token.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from tansiq.errors import ConfigurationError

KEY_ENV = "TANSIQ_PEER_KEY_FILE"


def key_path(database: str) -> Path:
    explicit = os.environ.get(KEY_ENV)
    if explicit:
        return Path(explicit)
    if database.startswith(("postgresql://", "postgres://")) or database == ":memory:":
        return Path.home() / ".config" / "tansiq" / "peer-key"
    return Path(database + ".peer-key")


class SecretBox:
    """Encrypts and decrypts peer credentials with the key file at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fernet: Fernet | None = None

    def _key(self, create: bool) -> Fernet:
        if self._fernet is None:
            if not self.path.exists():
                if not create:
                    raise ConfigurationError(
                        f"peer credentials key file {self.path} is missing; restore it "
                        f"(or set {KEY_ENV}) or add the peer's credentials again"
                    )
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(Fernet.generate_key())
            try:
                self._fernet = Fernet(self.path.read_bytes().strip())
            except (ValueError, OSError) as exc:
                raise ConfigurationError(
                    f"peer credentials key file {self.path} is unreadable: {exc}"
                ) from exc
        return self._fernet

    def encrypt(self, text: str) -> str:
        return self._key(create=True).encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._key(create=False).decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ConfigurationError(
                f"peer credentials cannot be decrypted with {self.path} (another key?); "
                "add the peer's credentials again"
            ) from exc
