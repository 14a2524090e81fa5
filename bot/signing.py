"""Signed, expiring map links: HMAC-SHA256 over (source, snapshot id, expiry).

The secret is generated once per installation and kept in the data folder, readable
by the bot's user only, so links stay valid across restarts until they expire.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
import time
from enum import Enum
from pathlib import Path
from typing import Callable

from storage.db import private_folder

SECRET_FILE = "map-link-secret"
SECRET_BYTES = 32


class Verdict(Enum):
    OK = "ok"
    EXPIRED = "expired"
    FORGED = "forged"


def load_or_create_secret(data_dir: str | Path) -> bytes:
    """The installation's signing secret, created (mode 0600) on first use.

    The secret is written whole to a temporary file and then linked into place, so a
    crash never leaves an empty or partial secret; one left by an older version (too
    short to sign with) is replaced. Two processes starting at once agree on one secret.
    """
    path = Path(data_dir) / SECRET_FILE
    private_folder(path.parent)
    existing = _read(path)
    if existing is not None and len(existing) >= SECRET_BYTES:
        return existing
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(SECRET_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        if existing is None:
            try:
                os.link(temporary, path)  # fails if another process got there first
            except FileExistsError:
                pass
        else:
            os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return path.read_bytes()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


class Signer:
    """Signs and checks (source, snapshot id, expiry) triples."""

    def __init__(self, secret: bytes, clock: Callable[[], float] = time.time):
        if len(secret) < 16:
            raise ValueError("the map link secret is too short")
        self._secret = secret
        self.clock = clock

    def signature(self, source: str, snapshot_id: int, expires: int) -> str:
        message = f"{len(source)}:{source}|{int(snapshot_id)}|{int(expires)}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(self, source: str, snapshot_id: int, ttl_seconds: float) -> tuple[int, str]:
        """(expiry as unix seconds, signature) for a link valid for `ttl_seconds`."""
        expires = int(self.clock() + ttl_seconds)
        return expires, self.signature(source, snapshot_id, expires)

    def check(self, source: str, snapshot_id: int, expires: int, signature: str) -> Verdict:
        """Forged first (a tampered expiry is a forgery), then expired."""
        expected = self.signature(source, snapshot_id, expires)
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            return Verdict.FORGED
        if self.clock() >= expires:
            return Verdict.EXPIRED
        return Verdict.OK
