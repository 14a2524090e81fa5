"""One short hello in a stream the bot has just been added to, once per stream ever.

Zulip tells the bot with a ``subscription`` event (``op: add``). The stream is marked
greeted in the store before the hello is sent, so a restart, a re-subscription or a
duplicate event never makes the bot say it twice; a hello that fails to send is
logged and not retried.
"""

from __future__ import annotations

import logging

from typing import Callable

from bot.zulip_io import ZulipError

log = logging.getLogger(__name__)

GREETED_KEY = "greeted.stream.{stream_id}"
HELLO_TOPIC = "batchviz"
PRIVATE_SOURCE = "a private stream"  # the source, to people who may not read it


def hello_text(where: str) -> str:
    return (f"Hello! I map the introductions in {where} into groups of shared interests. "
            "Mention me or DM me `help` to see what I can do, e.g. `who's near me?`.")


class Greeter:
    """Says hello in each stream the bot is newly subscribed to."""

    def __init__(self, store, io, where: Callable[[str], str]):
        self.store = store
        self.io = io
        self.where = where  # the stream greeted -> how the source is named to its readers

    def handle_event(self, event: dict) -> None:
        if event.get("type") != "subscription" or event.get("op") != "add":
            return
        for subscription in event.get("subscriptions", []):
            self._greet(int(subscription["stream_id"]), str(subscription["name"]))

    def _greet(self, stream_id: int, name: str) -> None:
        key = GREETED_KEY.format(stream_id=stream_id)
        if self.store.get_state(key):
            return
        self.store.set_state(key, "1")
        try:
            self.io.send_stream(name, HELLO_TOPIC, hello_text(self.where(name)))
        except ZulipError as exc:
            log.warning("Could not say hello in stream %s: %s", stream_id, exc)
