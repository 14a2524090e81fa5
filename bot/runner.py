"""The long-running bot: connect, register, resync/backfill, follow events, answer, schedule.

`Bot` wires the parts together and owns their lifecycle; `run(settings)` is the
process (signal handlers, then block until asked to stop). The event loop is written
out here rather than using `call_on_each_event`, which ends when a callback raises and
offers no hook to backfill after the queue is re-registered.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Callable

from bot import service
from bot.answers import Answerer, Asker
from bot.directory import Directory
from bot.dispatch import Dispatcher
from bot.ingest import Ingestor
from bot.posting import WeeklyPoster
from bot.refresh import Cooldown, Refresher, refresh_command
from bot.scheduler import Scheduler
from bot.settings import maps_dir
from bot.signing import Signer, load_or_create_secret
from bot.webserver import MapLinks, MapServer
from bot.zulip_io import ZulipError, ZulipIO
from pipeline.embed import load_embedder
from storage import Store

log = logging.getLogger(__name__)

EVENT_TYPES = ["message", "update_message", "delete_message"]
ERROR_PAUSE = 1.0  # seconds between attempts when the event queue keeps failing


class Bot:
    """The bot's parts and their ordered start and stop; usable in a test thread."""

    def __init__(self, settings, client_factory: Callable[[], ZulipIO] | None = None,
                 embedder=None, clock=None, background_schedules: bool = True):
        self.settings = settings
        self._client_factory = client_factory or (lambda: ZulipIO(str(settings.path)))
        self._embedder = embedder
        self._clock = clock
        self._background_schedules = background_schedules
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._queue_id: str | None = None
        self._last_event_id = -1
        self._resynced = False  # the full read at process start is done
        self._last_message_id = -1  # the newest message seen (events or registration)
        self.ready = threading.Event()  # set once registered and caught up
        self.server: MapServer | None = None

    # -- lifecycle

    def start(self) -> "Bot":
        s = self.settings
        self.io = self._client_factory()
        profile = self.io.call("get_profile")
        self.own_id, self.own_name = int(profile["user_id"]), profile["full_name"]
        log.info("Connected to %s as %s (feature level %s)", s.api_site or "Zulip", self.own_name,
                 self.io.feature_level)
        self.store = Store(s.database)
        self.embedder = self._embedder or load_embedder(s.embedding_model or None, s.embedding_prefix)
        self.directory = Directory(self.io)
        self.ingestor = Ingestor(self.store, s.sources, self.io, self.directory, self.own_id)
        self.refresher = Refresher(self.store, self._rebuild)
        self.cooldown = Cooldown(s.refresh_cooldown_minutes)
        self.links = self._start_web()
        self.answerers = {src.name: self._answerer(src) for src in s.sources}
        self.dispatcher = Dispatcher(self.io, self.directory, self.own_id, self.own_name, s.sources,
                                     lambda src: self.answerers[src.name], self.content_changed,
                                     sources_of=self.store.sources_of)
        self.poster = WeeklyPoster(self.io, self.store, s, self.refresher, self.links,
                                   self._preview, service.describe_changes)
        self.scheduler = Scheduler(s, self.store, self.refresh_stale, self.poster.post_all, self._clock)
        if self._background_schedules:
            self.scheduler.start()
        self._thread = threading.Thread(target=self._event_loop, name="zulip-events", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop in order: schedules, event loop, commands, web server, database."""
        log.info("Stopping: scheduler")
        self.scheduler.shutdown()
        log.info("Stopping: event loop")
        self._stopping.set()
        self._deregister()
        if self._thread is not None:
            self._thread.join(timeout=10)
        log.info("Stopping: commands")
        self.dispatcher.close()
        self.refresher.close()  # a build under way writes to the store
        if self.server is not None:
            log.info("Stopping: map web server")
            self.server.stop()
        log.info("Stopping: database")
        self.store.close()
        log.info("Stopped")

    def wait(self) -> None:
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    # -- events

    def _event_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                queue_id = self._queue_id or self._register()
                if self._stopping.is_set():
                    break
                answer = self.io.call("get_events", queue_id=queue_id,
                                      last_event_id=self._last_event_id)
                for event in answer["events"]:
                    self._last_event_id = max(self._last_event_id, int(event["id"]))
                    self.handle_event(event)
            except ZulipError as exc:
                self._queue_failed(exc)
            except Exception:
                log.exception("Event loop error; continuing")
                self._stopping.wait(ERROR_PAUSE)

    def _queue_failed(self, exc: ZulipError) -> None:
        if self._stopping.is_set():
            return
        if exc.code == "BAD_EVENT_QUEUE_ID":
            log.warning("Event queue %s expired; registering again", self._queue_id)
            self._queue_id = None
        else:  # keep the queue: once Zulip is back it still holds what was sent meanwhile
            log.error("Event queue error: %s", exc)
            self._stopping.wait(ERROR_PAUSE)

    def _register(self) -> str:
        answer = self.io.call("register", event_types=EVENT_TYPES, narrow=[],
                              all_public_streams=False, apply_markdown=False,
                              client_gravatar=True,
                              client_capabilities={"bulk_message_deletion": True})
        self._queue_id, self._last_event_id = answer["queue_id"], int(answer["last_event_id"])
        log.info("Registered event queue %s", self._queue_id)
        # The first time in this process, read every source in full (edits and deletions
        # made while the bot was down); after a re-registration the gap since is enough.
        catch_up = self.ingestor.backfill if self._resynced else self.ingestor.resync
        try:
            for source in self.settings.sources:
                interrupted = self.refresher.is_stale(source) and self.store.message_count(source.name)
                if catch_up(source) or interrupted:  # new content, or a build a crash cut short
                    self.content_changed()
            if self._resynced:
                self._answer_missed(int(answer["max_message_id"]))
        except BaseException:
            self._queue_id = None  # register and read again: the gap must be read
            raise
        self._resynced = True
        self._last_message_id = max(self._last_message_id, int(answer["max_message_id"]))
        self.ready.set()
        return self._queue_id

    def _answer_missed(self, up_to: int) -> None:
        """Answer the direct messages sent while no queue was listening: after the last
        message event seen, up to this registration (later ones arrive as events).
        Mentions in streams during such a gap are not caught up."""
        answer = self.io.call("get_messages", {
            # -1: no message existed or was seen yet; Zulip's anchors start at 0
            "anchor": max(self._last_message_id, 0), "include_anchor": False, "num_before": 0,
            "num_after": 200, "narrow": [{"operator": "is", "operand": "dm"}], "apply_markdown": False,
        })
        for message in answer["messages"]:
            if message["id"] <= up_to:
                self.dispatcher.submit(message)

    def _deregister(self) -> None:
        queue_id, self._queue_id = self._queue_id, None
        if queue_id is not None:
            try:
                self.io.client.deregister(queue_id, timeout=5)
            except Exception as exc:  # the server may be gone already
                log.info("Could not delete event queue %s: %s", queue_id, exc)

    def handle_event(self, event: dict) -> None:
        """Store what the event changes and answer it if it is a command; never raises."""
        try:
            if self.ingestor.handle_event(event):
                self.content_changed()
            if event.get("type") == "message":
                self._last_message_id = max(self._last_message_id, int(event["message"]["id"]))
                self.dispatcher.submit(event["message"])
        except Exception:
            log.exception("Handling a %s event failed; continuing", event.get("type"))

    def content_changed(self) -> None:
        for source in self.settings.sources:
            self.refresher.mark_dirty(source)
        self.scheduler.debounce()

    # -- maps

    def _rebuild(self, source) -> service.RebuildResult:
        s = self.settings
        names = service.NamePolicy(s.pseudonymize, s.keep_names, s.random_state)
        return service.rebuild(self.store, source.name, s.pipeline_params(), self.embedder,
                               outputs=maps_dir(s.data_dir, source.name), names=names,
                               title=f"Introductions in {source.stream}")

    def refresh_stale(self) -> None:
        for source in self.settings.sources:
            while self.refresher.refresh_if_stale(source) is not None:
                pass  # content arrived during the build (its own debounce was skipped): again

    def _map_file(self, source: str, snapshot_id: int, suffix: str) -> Path | None:
        if source not in {src.name for src in self.settings.sources}:
            return None  # never build a path from an unknown name
        return maps_dir(self.settings.data_dir, source) / f"{int(snapshot_id)}{suffix}"

    def _lookup(self, source: str, snapshot_id: int) -> Path | None:
        return self._map_file(source, snapshot_id, ".html")

    def _preview(self, source: str, snapshot_id: int) -> Path | None:
        return self._map_file(source, snapshot_id, ".png")

    def _start_web(self) -> MapLinks:
        s = self.settings
        signer, server_url = None, ""
        if s.web_mode == "serve":
            signer = Signer(load_or_create_secret(s.data_dir))
            self.server = MapServer(s.web_host, s.web_port, signer, self._lookup).start()
            server_url = self.server.base_url
        return MapLinks(s.web_mode, signer, self._lookup, s.link_ttl_hours, s.public_url,
                        s.map_dir, server_url=server_url)

    # -- commands

    def _answerer(self, source) -> Answerer:
        latest = (lambda: self._latest_link(source)) if self.settings.web_mode != "off" else None
        return Answerer(self.store, source.name, latest, refresh=lambda asker: self._refresh_command(source, asker),
                        status_extra=self._status_extra, join_where=source.describe(),
                        default_k=self.settings.neighbours_k)

    def _latest_link(self, source) -> str:
        info = self.store.snapshot_info(source.name)
        return (self.links.mint_url(source.name, info[0]) if info else None) or "(no map file yet)"

    def _refresh_command(self, source, asker: Asker) -> str:
        """Replies at once; the build runs on its own worker and its result follows."""
        return refresh_command(self.refresher, self.cooldown, source, asker.user_id,
                               lambda built: self._refreshed(source, built))

    def _refreshed(self, source, built: service.RebuildResult) -> str:
        link = self.links.mint_url(source.name, built.snapshot_id) if built.snapshot_id else None
        lines = [f"Refreshed: {len(built.result)} people in {len(built.result.clusters)} clusters."]
        lines += [f"- {line}" for line in built.changes]
        lines.append(f"[open the map]({link})" if link else "The map isn't published anywhere from here.")
        return "\n".join(lines)

    def _status_extra(self) -> str:
        return f"Next weekly post: {self.scheduler.next_run('weekly-post'):%Y-%m-%d %H:%M %Z}."


def run(settings) -> None:
    """Run the bot until SIGTERM or SIGINT, then stop it in order."""
    settings.check_runnable()
    stop_requested = threading.Event()

    def on_signal(signum, _frame) -> None:
        log.info("Received %s; shutting down", signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    bot = Bot(settings).start()
    while not stop_requested.wait(1.0):
        pass
    bot.stop()
