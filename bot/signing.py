"""Signed, expiring map links: HMAC-SHA256 over (source, snapshot id, expiry).

The secret is generated once per installation and kept in the data folder, readable
by the bot's user only, so links stay valid across restarts until they expire.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from enum import Enum
from pathlib import Path
from typing import Callable

SECRET_FILE = "map-link-secret"
SECRET_BYTES = 32


class Verdict(Enum):
    OK = "ok"
    EXPIRED = "expired"
    FORGED = "forged"


def load_or_create_secret(data_dir: str | Path) -> bytes:
    """The installation's signing secret, created (mode 0600) on first use."""
    path = Path(data_dir) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(SECRET_BYTES))
    return path.read_bytes()


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
