"""What the bot knows about the realm's users and streams, fetched on demand and cached.

Messages do not say whether their sender is a bot, and `update_message` events name a
moved-to stream only by id, so both lookups live here, next to the access check
("may this person read that stream?") that the command dispatcher needs.
"""

from __future__ import annotations

import threading

from bot.zulip_io import ZulipIO


class Directory:
    """Users and streams by id, cached for the life of the process."""

    def __init__(self, io: ZulipIO):
        self.io = io
        self._users: dict[int, dict] = {}
        self._streams: dict[int, dict] = {}
        self._lock = threading.Lock()

    def user(self, user_id: int) -> dict | None:
        with self._lock:
            if user_id not in self._users:
                members = self.io.call("get_members", {"client_gravatar": True})["members"]
                self._users.update({int(m["user_id"]): m for m in members})
                # not a realm member (e.g. a cross-realm system bot): don't ask again
                self._users.setdefault(user_id, {})
            return self._users[user_id] or None

    def is_bot(self, user_id: int) -> bool:
        person = self.user(user_id)
        return bool(person and person.get("is_bot"))

    def stream(self, stream_id: int) -> dict | None:
        """The stream (name, invite_only …) if the bot can see it."""
        with self._lock:
            if stream_id not in self._streams:
                self._load_streams()
            return self._streams.get(stream_id)

    def stream_named(self, name: str) -> dict | None:
        with self._lock:
            found = self._find(name)
            if found is None:
                self._load_streams()
                found = self._find(name)
            return found

    def stream_name(self, stream_id: int) -> str | None:
        found = self.stream(stream_id)
        return found["name"] if found else None

    def _find(self, name: str) -> dict | None:
        wanted = name.casefold()
        return next((s for s in self._streams.values() if s["name"].casefold() == wanted), None)

    def _load_streams(self) -> None:
        streams = self.io.call("get_streams")["streams"]
        self._streams = {int(s["stream_id"]): s for s in streams}

    def can_read(self, user_id: int, stream_name: str) -> bool:
        """Whether this person may read the stream: anyone for a public one, subscribers otherwise."""
        found = self.stream_named(stream_name)
        if found is None:
            return False
        if not found.get("invite_only"):
            return True
        answer = self.io.call_endpoint(f"users/{user_id}/subscriptions/{found['stream_id']}", "GET")
        return bool(answer.get("is_subscribed"))
