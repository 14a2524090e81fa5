"""Replies to parsed commands, read from the latest complete map of one source.

Every reply is Zulip Markdown. A Zulip user is named by a silent mention by id
(``@_**|id**``: Zulip shows their current name, clickable, notifies no one) when the
answerer is told its people are Zulip users; anyone else (CSV, demo) in bold text.
Anything a person wrote (names, shared words, sentences) goes through ``bot.inert`` so
it cannot inject mentions, links or formatting. Times are ``<time:…>``, which Zulip
shows in each reader's own time zone. How close two people are is said in words
calibrated on the batch (``bot.closeness``).
People who opted out are never named: they are filtered at answer time too, whatever an
older snapshot still holds.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from bot.closeness import Scale, calibrate
from bot import interests
from bot.commands import BY_NAME, ParsedCommand, help_text, short_help
from bot.inert import bold, md, mention as mention_by_id
from pipeline.errors import PipelineError
from pipeline.neighbours import nearest_to, normalised, term_weights
from pipeline.result import MapResult, Neighbour
from storage.errors import StorageError
from storage.withdraw import GONE

log = logging.getLogger(__name__)
MAX_LISTED = 30  # members shown for one group
MAX_ECHO = 100  # characters of the asker's own text repeated in a reply
SWITCH_SECONDS = 0.0005  # how long a busy thread keeps the interpreter lock from a command's


def prefer_answers() -> None:
    """In the bot's process, hand the interpreter lock between threads every 0.5 ms, not
    Python's default 5 ms. Reading a new map in (``Answerer.warm``) is seconds of Python at
    5,000 people; a command answered beside it waits for the lock each time it comes back
    from SQLite or numpy, and at 5 ms a wait, `near me 20` went from a p99 of 51 ms to 132
    (measured in benchmarks/README.md). The cost is more switching, for the busy thread."""
    sys.setswitchinterval(SWITCH_SECONDS)


@dataclass(frozen=True)
class LoadedMap:
    """A map read for answering, with what answers derive from it, computed once."""

    snapshot: int | None
    result: MapResult
    scale: Scale  # closeness in words, calibrated on this map
    rows: dict[str, int]  # person id -> row
    unit: np.ndarray  # the embeddings at unit length, for `near` past the stored neighbours
    texts: tuple[str, ...]
    scrubbed: str | None = None  # the store's scrubbed stamp when it was read

    @classmethod
    def of(cls, result: MapResult, snapshot: int | None = None, scrubbed: str | None = None) -> "LoadedMap":
        rows: dict[str, int] = {}
        for row, doc in enumerate(result.people):
            rows.setdefault(doc.person_id, row)
        return cls(snapshot, result, calibrate(result), rows, normalised(result.embeddings),
                   tuple(doc.text for doc in result.people), scrubbed)

    def current(self, snapshot: int, scrubbed: str | None) -> bool:
        """Whether this is the stored map now: same snapshot, nobody withdrawn since."""
        return self.snapshot == snapshot and self.scrubbed == scrubbed


@dataclass(frozen=True)
class Asker:
    user_id: str
    name: str
    email: str = ""


def person(name: str, person_id: str, mention: bool = False) -> str:
    """A Zulip user as a silent mention by id (never a stored name inside mention syntax:
    it breaks once they are renamed), anyone else as their name in bold, inert."""
    if mention and str(person_id).isdigit():
        return mention_by_id(person_id)
    return bold(name)


def zulip_time(moment: datetime) -> str:
    """``<time:2026-11-29T18:30:00+00:00>``: Zulip shows it in each reader's time zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return f"<time:{moment.astimezone(timezone.utc).isoformat(timespec='seconds')}>"


class FollowUp(str):
    """A reply to send now that promises a second one: ``later`` resolves to the text to
    send to the same place when it is ready (a `refresh` replies, then gives the result)."""

    later: Future

    def __new__(cls, text: str, later: Future) -> "FollowUp":
        reply = super().__new__(cls, text)
        reply.later = later
        return reply


def friendly_error(exc: BaseException) -> str:
    """The one place that turns an exception into a one-line chat reply."""
    if isinstance(exc, (PipelineError, StorageError)):
        return f"Sorry, I couldn't do that: {md(exc)}"
    if isinstance(exc, sqlite3.Error):
        return "Sorry, I couldn't read my database just now; please try again in a minute."
    return "Sorry, something went wrong on my side; the details are in my log."


def folder_size(folder: Path) -> int:
    """Bytes in the files under `folder` (files that vanish while counting are skipped)."""
    total = 0
    for parent, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(parent, name), follow_symlinks=False).st_size
            except OSError:
                pass
    return total


def human_size(size: float) -> str:
    """A byte count for people: 950 bytes, 12.3 MB."""
    if size < 1000:
        return f"{int(size)} bytes"
    unit = "KB"
    for unit in ("KB", "MB", "GB", "TB"):
        size /= 1000
        if size < 1000:
            break
    return f"{size:.1f} {unit}"


def _model(result: MapResult) -> str:
    """The map's model and what ran it: "all-MiniLM-L6-v2 on onnx"."""
    backend = result.params.get("embedding_backend")
    return md(result.model) + (f" on {md(backend)}" if backend else "")


def _shared(neighbour: Neighbour) -> str:
    return f" · shared: {', '.join(md(w) for w in neighbour.shared_words)}" if neighbour.shared_words else ""


class Answerer:
    """Answers commands for one source; ``answer`` never raises."""

    def __init__(self, store, source: str, links: Callable[[], str] | None = None, *,
                 refresh: Callable[[Asker], str] | None = None,
                 status_extra: Callable[[], str] | None = None,
                 join_where: str = "the introductions topic", default_k: int = 5,
                 mentions: bool = False, rebuild_minutes: int | None = None,
                 encode: Callable[[str], tuple[str, np.ndarray]] | None = None):
        self.store = store
        self.source = source
        self.links = links
        self.refresh = refresh
        self.status_extra = status_extra
        self.join_where = join_where
        self.default_k = default_k
        self.mentions = mentions  # the people are Zulip users: name them by silent mentions
        self.rebuild_minutes = rebuild_minutes  # how long after a new intro the map is rebuilt
        self.encode = encode  # a topic -> (model id, its embedding); None: by words only
        self._loaded: LoadedMap | None = None  # the map commands are answered from
        self._reading = threading.Lock()  # held by whoever reads a new map in

    def answer(self, parsed: ParsedCommand, asker: Asker) -> str:
        if parsed.error:
            return parsed.error
        if parsed.name not in BY_NAME:
            return short_help()
        try:
            return getattr(self, f"answer_{parsed.name}")(asker, **parsed.args)
        except Exception as exc:  # the chat edge: log the trace, reply one line
            log.exception("command %s failed", parsed.name)
            return friendly_error(exc)

    # ---- helpers --------------------------------------------------------------

    def latest_map(self) -> MapResult | None:
        """The latest complete map of this source, or None before the first build. A map
        is read from storage once per snapshot, not once per command (~0.1 s at 5,000
        people). While ``warm`` reads a newer one in, commands are answered from the map
        in hand (who opted out is checked per answer all the same), unless someone was
        withdrawn from the stored maps since it was read (an opt-out, in any process):
        then every command waits for the scrubbed copy, so nobody is quoted after."""
        scrubbed = self.store.scrubbed_stamp()  # before the snapshot: a later scrub rereads
        info = self.store.snapshot_info(self.source)
        if info is None:
            return None
        loaded = self._loaded
        clean = loaded is not None and loaded.scrubbed == scrubbed
        if clean and (loaded.snapshot == info[0] or not self._reading.acquire(blocking=False)):
            return loaded.result
        if not clean:
            self._reading.acquire()
        try:
            loaded = self._loaded = self._read(info[0], scrubbed)
            return loaded.result
        finally:
            self._reading.release()

    def _read(self, snapshot: int, scrubbed: str | None) -> LoadedMap:
        """The map of ``snapshot``, read unless it is the one in hand (under ``_reading``)."""
        loaded = self._loaded
        if loaded is None or not loaded.current(snapshot, scrubbed):
            loaded = LoadedMap.of(self.store.load_snapshot(snapshot), snapshot, scrubbed)
        return loaded

    def warm(self) -> None:
        """Read a new map and fit its shared-words weights (after a build), then answer
        from it: no command waits for either, and the first that needs the weights does
        not fit them itself."""
        scrubbed = self.store.scrubbed_stamp()
        info = self.store.snapshot_info(self.source)
        if info is None:
            return
        with self._reading:
            loaded = self._read(info[0], scrubbed)
            if len(loaded.result):
                term_weights(loaded.texts)
            self._loaded = loaded

    def _view(self, result: MapResult) -> LoadedMap:
        """What answers derive from ``result``: kept for the map in hand."""
        loaded = self._loaded
        return loaded if loaded is not None and loaded.result is result else LoadedMap.of(result)

    def _name(self, result: MapResult, index: int) -> str:
        doc = result.people[index]
        return person(doc.name, doc.person_id, self.mentions)

    def _no_map(self) -> str:
        return f"There is no map yet. It is built from the introductions in {self.join_where}; say `refresh` to build it."

    def _visible(self, result: MapResult) -> Callable[[int], bool]:
        """Whether the person at an index may be named (not opted out, nor a withdrawn
        blank): who opted out is read once per answer, not once per person (5,000 queries
        for a `near @X`)."""
        hidden = self.store.opted_out_ids() | {GONE}
        return lambda index: result.people[index].person_id not in hidden

    def _link(self) -> str:
        if self.links is None:
            return "the map isn't published anywhere from here"
        return f"[open the map]({self.links()})"

    def _personal_link(self, user_id: str) -> str:
        """``[See yourself on the map](…#me=<id>)``, or "" when there is no map link."""
        link = self.links() if self.links is not None else ""
        if not link or "://" not in link:
            return ""
        return f"[See yourself and your closest people on the map]({link.split('#')[0]}#me={user_id})"

    def _neighbours(self, result: MapResult, index: int, k: int) -> list[Neighbour]:
        """The k nearest visible people, from the snapshot or computed when it has too few."""
        visible = self._visible(result)
        stored = [n for n in result.neighbours[index] if visible(n.index)]
        if len(stored) >= k or len(result.neighbours[index]) >= len(result) - 1:
            return stored[:k]
        view = self._view(result)
        return nearest_to(view.unit, view.texts, index, k, keep=visible)

    def _near_reply(self, result: MapResult, index: int, k: int | None, whose: str) -> str:
        neighbours = self._neighbours(result, index, k or self.default_k)
        if not neighbours:
            return f"Nobody else is on the map yet, so there is no one near {whose}."
        scale = self._view(result).scale
        lines = [f"Closest to {whose}:"]
        for rank, n in enumerate(neighbours, 1):
            lines.append(f"{rank}. {self._name(result, n.index)} — {scale.words(n.similarity)}{_shared(n)}")
        return "\n".join(lines)

    def _find(self, result: MapResult, name: str, user_id: str | None) -> list[int]:
        """Indices of visible people matching: user id, exact name, any case, unique prefix."""
        visible = list(filter(self._visible(result), range(len(result))))
        if user_id:
            by_id = [i for i in visible if result.people[i].person_id == user_id]
            if by_id:
                return by_id
        for test in (lambda n: n == name, lambda n: n.casefold() == name.casefold(),
                     lambda n: n.casefold().startswith(name.casefold())):
            found = [i for i in visible if test(result.people[i].name)]
            if found:
                return found
        return []

    # ---- one method per command (see bot.commands.COMMANDS) --------------------

    def answer_help(self, asker: Asker) -> str:
        return help_text()

    def answer_near_me(self, asker: Asker, k: int | None = None) -> str:
        result = self.latest_map()
        if result is None:
            return self._no_map()
        if self.store.opted_out(asker.user_id):
            return "You opted out, so you're not on the map. Say `opt in` to be included from the next build."
        index = self._view(result).rows.get(asker.user_id)
        if index is None:
            return self._not_mapped_yet(result, asker)
        # In Zulip the reply may be read by a whole stream: say who "you" is.
        whose = self._name(result, index) if self.mentions else "you"
        reply = self._near_reply(result, index, k, whose)
        more = self._personal_link(asker.user_id)
        # a paragraph of its own: right after the list, Zulip would make it part of the last item
        return f"{reply}\n\n{more}" if more and not reply.startswith("Nobody") else reply

    def _not_mapped_yet(self, result: MapResult, asker: Asker) -> str:
        if self.source not in self.store.sources_of(asker.user_id):
            return (f"You're not on the map yet. Post an introduction in {self.join_where}; "
                    "you'll be on the next map.")
        minutes = self.rebuild_minutes
        when = ("at the next rebuild" if minutes is None else
                "within a minute or so" if minutes <= 1 else
                f"about {minutes} minutes after the latest new introduction")
        return (f"I have your introduction, but this map was built {zulip_time(result.built_at)}, before it. "
                f"You'll be on the next map, built {when}; say `refresh` to build it now.")

    def answer_near(self, asker: Asker, name: str, user_id: str | None = None, k: int | None = None) -> str:
        result = self.latest_map()
        if result is None:
            return self._no_map()
        found = self._find(result, name, user_id)
        asked = bold(name[:MAX_ECHO])
        if not found:
            return f"I couldn't find anyone called {asked} on the map."
        if len(found) > 1:
            names = ", ".join(self._name(result, i) for i in found[:10])
            return f"{asked} could be several people: {names}. Which one? Say `near` with the full name."
        return self._near_reply(result, found[0], k, self._name(result, found[0]))

    def answer_cluster(self, asker: Asker, number: int) -> str:
        result = self.latest_map()
        if result is None:
            return self._no_map()
        cluster = result.clusters.get(number)
        if cluster is None:
            return f"There is no group {number}; {self._cluster_range(result)}."
        members = list(filter(self._visible(result), cluster.members))
        shown = ", ".join(self._name(result, i) for i in members[:MAX_LISTED])
        more = f" and {len(members) - MAX_LISTED} more" if len(members) > MAX_LISTED else ""
        lines = [f"**Group {number}** ({len(members)} people): {', '.join(md(w) for w in cluster.keywords)}",
                 f"Members: {shown}{more}"]
        if cluster.sentences:
            lines.append(f"> {md(cluster.sentences[0])}\n")  # the blank line ends the quote before "Map:"
        lines.append(f"Map: {self._link()}")
        return "\n".join(lines)

    @staticmethod
    def _cluster_range(result: MapResult) -> str:
        numbers = sorted(result.clusters)
        if not numbers:
            return "this map has no groups yet"
        if numbers == list(range(numbers[0], numbers[-1] + 1)):
            return f"there are groups {numbers[0]}–{numbers[-1]}"
        return "there are groups " + ", ".join(map(str, numbers))

    def answer_clusters(self, asker: Asker) -> str:
        result = self.latest_map()
        if result is None:
            return self._no_map()
        if not result.clusters:
            return f"No groups yet: {md(result.notice or 'too few introductions to form groups')}."
        alone = f"{result.noise_count} {'person' if result.noise_count == 1 else 'people'} not in a group"
        lines = [f"{len(result.clusters)} groups ({alone}):"]
        for number in sorted(result.clusters):
            cluster = result.clusters[number]
            size = len(cluster.members)
            lines.append(f"* **Group {number}** ({size} {'person' if size == 1 else 'people'}): "
                         f"{', '.join(md(w) for w in cluster.keywords)}")
        return "\n".join(lines)

    def _summary(self, result: MapResult) -> str:
        groups = len(result.clusters)
        return (f"built {zulip_time(result.built_at)} from {len(result)} people "
                f"in {groups} group{'' if groups == 1 else 's'}")

    def answer_map(self, asker: Asker) -> str:
        result = self.latest_map()
        if result is None:
            return self._no_map()
        return f"The latest map: {self._link()} — {self._summary(result)}."

    def answer_status(self, asker: Asker) -> str:
        result = self.latest_map()
        lines = [f"Last map: {self._summary(result)}; model {_model(result)}." if result else "No map built yet.",
                 f"Introductions stored: {self.store.message_count(self.source)}.",
                 f"Data folder: {human_size(folder_size(Path(self.store.path).parent))}."]
        if result is not None and result.notice:
            lines.append(f"Note: {md(result.notice)}")
        if self.status_extra is not None:
            lines.append(self.status_extra())
        return "\n".join(lines)

    def answer_refresh(self, asker: Asker) -> str:
        if self.refresh is None:
            return "I can't refresh the map from here."
        return self.refresh(asker)

    def answer_into(self, asker: Asker, topic: str, everywhere: bool = False) -> str:
        """This source's people into ``topic`` (``everywhere`` is the dispatcher's: ``bot.everywhere``)."""
        result = self.latest_map()
        if result is None:
            return self._no_map()
        view = self._view(result)
        model, vector = self.encode(topic) if self.encode is not None else (None, None)
        words_only = model != result.model  # never compare a topic and a map of two models
        index = interests.index_for(view.unit, view.texts)
        found = index.rank(topic, None if words_only else vector, self.default_k, self._visible(result))
        link = self.links() if self.links is not None else None
        return interests.reply(result, found, topic, lambda i: self._name(result, i), link, words_only)

    def answer_opt_out(self, asker: Asker) -> str:
        deleted = self.store.forget_person(asker.user_id)
        self.store.set_consent(asker.user_id, True)
        stored = f"{deleted} message{'' if deleted == 1 else 's'}"
        return (f"Done. I deleted the {stored} of yours I had stored and their embeddings, "
                "and I won't name you in any answer. The next map won't include you. "
                "Say `opt in` if you change your mind.")

    def answer_opt_in(self, asker: Asker) -> str:
        self.store.set_consent(asker.user_id, False)
        return (f"Welcome back. Post (or edit) your introduction in {self.join_where} "
                "and you'll be on the next map.")
