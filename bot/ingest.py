"""Zulip messages and events → storage calls, idempotent by message id.

Every entry point returns whether stored, map-relevant content changed, so the runner
knows when to ask for a (debounced) rebuild. Messages are fetched with
`apply_markdown=false`: the raw Markdown is kept and its cleaned text embedded.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator

from bot.directory import Directory
from bot.zulip_io import ZulipError, ZulipIO, message_is_stream
from pipeline.markdown import clean_markdown

log = logging.getLogger(__name__)
REACTION_SHARE = 0.75  # of the request budget reactions may use: the rest stays free for replies and reads


def _narrow(stream: str, topic: str | None = None) -> list[dict]:
    narrow = [{"operator": "stream", "operand": stream}]
    if topic:
        narrow.append({"operator": "topic", "operand": topic})
    return narrow


def _topic(message: dict) -> str:
    return message.get("subject", message.get("topic", ""))


class Ingestor:
    """Keeps the store in step with the configured source topics."""

    def __init__(self, store, sources, io: ZulipIO, directory: Directory, own_user_id: int,
                 react_with: str = ""):
        self.store = store
        self.react_with = react_with  # emoji name put on each new introduction stored; "" for none
        self._reactions = ThreadPoolExecutor(1, "reactions")  # sends them, off the event thread
        self._closing = threading.Event()
        self.sources = list(sources)
        self.io = io
        self.directory = directory
        self.own_user_id = own_user_id

    def source_for(self, stream: str, topic: str):
        return next((s for s in self.sources if s.matches(stream, topic)), None)

    # -- backfill (after every registration) and resync (once, at process start)

    def backfill(self, source) -> bool:
        """Fetch every message of the source newer than the last one stored."""
        last = self.store.last_message_id(source.name)
        pages = self.io.pages(_narrow(source.stream, source.topic), last)
        changed = self._ingest_all(m for page in pages for m in page)
        log.info("Backfilled source %s after message %s", source.name, last)
        return changed

    def resync(self, source) -> bool:
        """Read the source's whole history once: apply edits made while the bot was down
        and forget stored messages that were deleted or moved out of it meanwhile."""
        present: set[int] = set()
        changed = False
        for page in self.io.pages(_narrow(source.stream, source.topic), None):
            for message in page:
                if self._belongs_to(message, source):
                    present.add(int(message["id"]))
                changed = self.ingest_message(message) or changed
        gone = self.store.message_ids(source.name) - present
        for message_id in sorted(gone):
            changed = bool(self.store.move_message(message_id, None)) or changed
        log.info("Resynced source %s: %d messages, %d gone", source.name, len(present), len(gone))
        return changed

    def _belongs_to(self, message: dict, source) -> bool:
        found = self.source_for(message.get("display_recipient", ""), _topic(message))
        return found is not None and found.name == source.name

    def _ingest_all(self, messages: Iterable[dict]) -> bool:
        changed = False
        for message in messages:
            changed = self.ingest_message(message) or changed
        return changed

    # -- single messages

    def ingest_message(self, message: dict) -> bool:
        """Store one message if it belongs to a source and a person; True if content changed."""
        if not message_is_stream(message):
            return False
        stream, topic = message.get("display_recipient", ""), _topic(message)
        source = self.source_for(stream, topic)
        if source is None or not self._from_a_person(message):
            return False
        user_id = str(message["sender_id"])
        if self.store.opted_out(user_id):
            return False
        self.store.upsert_person(user_id, message.get("sender_full_name", ""),
                                 message.get("sender_email", ""))
        raw = message.get("content", "")
        return bool(self.store.upsert_message(
            source.name, int(message["id"]), user_id, raw, clean_markdown(raw),
            int(message.get("timestamp", 0)), stream, topic,
        ))

    def _from_a_person(self, message: dict) -> bool:
        sender = int(message["sender_id"])
        return sender != self.own_user_id and not self.directory.is_bot(sender)

    # -- events

    def handle_event(self, event: dict) -> bool:
        """Apply one event from the queue; True if map-relevant content changed."""
        kind = event.get("type")
        if kind == "message":
            stored = self.ingest_message(event["message"])
            if stored and self.react_with:
                self._acknowledge(int(event["message"]["id"]))
            return stored
        if kind == "update_message":
            return self._update(event)
        if kind == "delete_message":
            ids = event.get("message_ids") or [event["message_id"]]
            return any([bool(self.store.delete_message(int(i))) for i in ids])
        return False

    def _acknowledge(self, message_id: int) -> None:
        """React to a new introduction just stored, on the reactions thread: a burst of
        500 intros is 500 reactions, paced to Zulip's rate limit over minutes, and the event
        thread must go on storing intros and passing on commands meanwhile."""
        self._reactions.submit(self._react, message_id)

    def _react(self, message_id: int) -> None:
        """One reaction, within ``REACTION_SHARE`` of the calls a minute, so replies and
        reads always have the rest (waiting for that here, where ``close`` can end the
        wait); a reaction that fails is only logged."""
        spare = self.io.budget.per_minute - int(REACTION_SHARE * self.io.budget.per_minute)
        while (wait := self.io.budget.delay(spare)) > 0:
            if self._closing.wait(wait):
                return
        try:
            self.io.call_endpoint(f"messages/{message_id}/reactions", "POST", {"emoji_name": self.react_with},
                                  spare=spare)
        except ZulipError as exc:
            log.warning("Could not react to introduction %s: %s", message_id, exc)

    def close(self) -> None:
        """Send no more reactions: the one under way finishes, those waiting are dropped
        (a missing emoji is all that is lost)."""
        self._closing.set()
        self._reactions.shutdown(wait=True, cancel_futures=True)

    def _update(self, event: dict) -> bool:
        if event.get("rendering_only"):
            return False
        changed = False
        if "new_stream_id" in event or "subject" in event:
            changed = self._move(event)
        if "content" in event and "stream_id" in event:  # direct-message edits never matter
            changed = self._edited(event) or changed
        return changed

    def _edited(self, event: dict) -> bool:
        """An edited message's new text, taken from the event (it carries the raw Markdown):
        a stored message is updated in place, with no request to Zulip. One not stored is
        read in full only if it is in a source's stream (the bot may have missed it); an
        edit anywhere else costs nothing."""
        raw = event["content"]
        edited = self.store.edit_message(int(event["message_id"]), raw, clean_markdown(raw))
        if edited is not None:
            return edited
        stream = event.get("stream_name") or self.directory.stream_name(int(event["stream_id"]))
        if not any(source.stream.casefold() == str(stream).casefold() for source in self.sources):
            return False
        return self._refetch(int(event["message_id"]))

    def _move(self, event: dict) -> bool:
        """Messages moved to another topic or stream: into a source, out of one, or between."""
        ids = sorted(int(i) for i in event.get("message_ids", [event["message_id"]]))
        stream_id = event.get("new_stream_id", event.get("stream_id"))
        stream = self.directory.stream_name(int(stream_id)) if stream_id is not None else None
        topic = event.get("subject", event.get("orig_subject", ""))
        source = self.source_for(stream, topic) if stream else None
        if source is None:
            return any([bool(self.store.move_message(i, None)) for i in ids])
        wanted = set(ids)
        pages = self.io.pages(_narrow(stream, topic), ids[0] - 1)
        return self._ingest_all(m for page in self._until(pages, ids[-1]) for m in page
                                if m["id"] in wanted)

    @staticmethod
    def _until(pages: Iterator[list[dict]], last_id: int) -> Iterator[list[dict]]:
        for page in pages:
            yield page
            if page and page[-1]["id"] >= last_id:
                return

    def _refetch(self, message_id: int) -> bool:
        """Re-read one edited message in full (the event lacks sender and place)."""
        answer = self.io.call_endpoint(f"messages/{message_id}", "GET", {"apply_markdown": False})
        return self.ingest_message(answer["message"])
