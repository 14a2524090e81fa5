"""What the bot knows about the realm's users and streams, and Zulip's rule of who may
read a stream.

Messages do not say whether their sender is a bot, and `update_message` events name a
moved-to stream only by id, so both lookups live here, next to the access check
("may this person read that stream?") and the routing check ("may what comes from that
stream be posted in this one?") that the command dispatcher needs.

Everything fetched is kept for `ttl` seconds (roles, subscriptions and a stream's
privacy change), and no lock is ever held across a network call: two threads that miss
at once both fetch, and the later answer wins.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from bot.zulip_io import ZulipIO

TTL_SECONDS = 30.0
GUEST_ROLE = 600  # Zulip's role numbers: 100 owner … 400 member, 600 guest


class Directory:
    """Users, streams and subscribers by id, each fetched at most once per `ttl`."""

    def __init__(self, io: ZulipIO, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.io = io
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[object, tuple[float, object]] = {}
        self._lock = threading.Lock()  # guards _cache only; never held while fetching

    def _get(self, key: object, fetch: Callable[[], object], fresh: Callable[[object], bool] = lambda v: True):
        """The cached value of `key` if younger than the TTL (and `fresh` says it will do),
        else a new fetch."""
        with self._lock:
            entry = self._cache.get(key)
        if entry is not None and self.clock() - entry[0] < self.ttl and fresh(entry[1]):
            return entry[1]
        value = fetch()
        with self._lock:
            self._cache[key] = (self.clock(), value)
        return value

    def forget(self) -> None:
        """Drop everything cached (after a `stream` or `subscription` event)."""
        with self._lock:
            self._cache.clear()

    # -- users

    def user(self, user_id: int) -> dict | None:
        """The realm member, or None (e.g. a cross-realm system bot)."""
        def fetch() -> tuple[dict[int, dict], set[int]]:
            members = self.io.call("get_members", {"client_gravatar": True})["members"]
            return {int(m["user_id"]): m for m in members}, set()  # (users, ids known missing)
        wanted = int(user_id)
        # someone new since the last fetch is a reason to fetch again, once
        users, missing = self._get("users", fetch, lambda v: wanted in v[0] or wanted in v[1])
        if wanted not in users:
            missing.add(wanted)
        return users.get(wanted)

    def is_bot(self, user_id: int) -> bool:
        person = self.user(user_id)
        return bool(person and person.get("is_bot"))

    def is_guest(self, user_id: int) -> bool:
        person = self.user(user_id) or {}
        return bool(person.get("is_guest")) or person.get("role") == GUEST_ROLE

    # -- streams

    def _streams(self) -> dict[int, dict]:
        return self._get("streams", lambda: {int(s["stream_id"]): s for s in self.io.call("get_streams")["streams"]})

    def stream(self, stream_id: int) -> dict | None:
        """The stream (name, invite_only …) if the bot can see it."""
        return self._streams().get(int(stream_id))

    def stream_named(self, name: str) -> dict | None:
        wanted = str(name).casefold()
        return next((s for s in self._streams().values() if s["name"].casefold() == wanted), None)

    def stream_names(self) -> list[str]:
        """The names of every stream the bot can see."""
        return [s["name"] for s in self._streams().values()]

    def stream_name(self, stream_id: int) -> str | None:
        found = self.stream(stream_id)
        return found["name"] if found else None

    def subscribers(self, stream: dict) -> frozenset[int]:
        stream_id = int(stream["stream_id"])
        return self._get(("subscribers", stream_id), lambda: frozenset(
            int(u) for u in self.io.call_endpoint(f"streams/{stream_id}/members", "GET")["subscribers"]))

    # -- Zulip's access rules

    def can_read(self, user_id: int, stream_name: str) -> bool:
        """Whether this person may read every message of the stream. A guest reads only
        streams they are subscribed to; anyone else also reads public (and web-public)
        ones. In a private stream with protected history a subscriber reads only what was
        sent after they joined, so nobody can be trusted with all of it."""
        found = self.stream_named(stream_name)
        person = self.user(user_id)
        if found is None or person is None or not person.get("is_active", True):
            return False
        if not found.get("invite_only") and not self.is_guest(user_id):
            return True
        if found.get("invite_only") and not found.get("history_public_to_subscribers", True):
            return False
        return int(user_id) in self.subscribers(found)

    def may_know(self, user_id: int, stream_name: str) -> bool:
        """Whether this person may know the stream exists (its name may be said to them):
        a member sees every public stream in the list; a guest, or anyone for a private
        one, only the streams they are subscribed to."""
        found = self.stream_named(stream_name)
        if found is None:
            return False
        if not found.get("invite_only") and not self.is_guest(user_id):
            return True
        return int(user_id) in self.subscribers(found)

    def may_post(self, where: str, source_stream: str) -> bool:
        """Whether a message holding data from `source_stream` may be posted in `where`:
        only when everyone who can read `where` can read the source."""
        if where.casefold() == source_stream.casefold():
            return True
        target, source = self.stream_named(where), self.stream_named(source_stream)
        if target is None or source is None:
            return False
        if target.get("is_web_public") and not source.get("is_web_public"):
            return False  # anyone on the internet reads a web-public stream
        if not target.get("invite_only"):
            if source.get("invite_only"):
                return False  # every member reads the target
            readers = {u for u in self.subscribers(target) if self.is_guest(u)}  # guests who joined
        else:
            readers = self.subscribers(target)
        return all(self.can_read(u, source_stream) for u in readers)
