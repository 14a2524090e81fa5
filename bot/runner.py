"""The long-running bot: connect, register, resync/backfill, follow events, answer, schedule.

`Bot` wires the parts together and owns their lifecycle; `run(settings)` is the
process (signal handlers, then block until asked to stop). The event loop is written
out here rather than using `call_on_each_event`, which ends when a callback raises and
offers no hook to backfill after the queue is re-registered.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
from pathlib import Path
from typing import Callable

from bot import health, metrics, service
from bot.answers import Answerer, Asker, prefer_answers, zulip_time
from bot.catchup import COMMAND_NARROWS, COMMAND_PAGE, first_start_anchor
from bot.builder import BuildJob, InProcessBuilds, WorkerProcess
from bot.checks import at_start
from bot.checks_web import probe_running
from bot.directory import Directory
from bot.dispatch import Dispatcher, check_post_stream
from bot.departures import Departures
from bot.fairness import CommandRate, ConsentCooldown
from bot.greeting import PRIVATE_SOURCE, Greeter
from bot.ingest import Ingestor
from bot.queries import InProcessQueries, QueryProcess
from bot.posting import WeeklyPoster
from bot.refresh import Cooldown, Refresher, refresh_command
from bot.scheduler import Scheduler
from bot.settings import maps_dir
from bot.signing import Signer, load_or_create_secret
from bot.webserver import MapLinks, MapServer
from bot.zulip_io import ZulipError, ZulipIO
from storage import Store

log = logging.getLogger(__name__)

EVENT_TYPES = ["message", "update_message", "delete_message", "subscription", "realm_user", "stream"]
ACCESS_EVENTS = frozenset({"subscription", "realm_user", "stream"})  # who may read what changed
# Zulip has required `notification_settings_null` since 2.1 (by accident, kept since).
CLIENT_CAPABILITIES = {"notification_settings_null": False, "bulk_message_deletion": True}
ERROR_PAUSE, MAX_ERROR_PAUSE = 1.0, 30.0  # seconds between attempts while events keep failing
EVENT_ATTEMPTS = 6  # five waits of 1, 2, 4, 8, 16 s: about 30 s before one event is given up
COMMANDS_SEEN_KEY = "commands.seen_through"  # every message up to this id was checked for commands


class Bot:
    """The bot's parts and their ordered start and stop; usable in a test thread."""

    def __init__(self, settings, client_factory: Callable[[], ZulipIO] | None = None,
                 embedder=None, clock=None, background_schedules: bool = True,
                 poll_interval: float = health.POLL_INTERVAL):
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
        self._event_failures: dict[int, int] = {}  # failed attempts of the event being retried
        self._commands_held_at = math.inf  # commands are seen through no further (a skipped message)
        self._refit: set[str] = set()  # sources whose next build fits the whole map afresh
        self.ready = threading.Event()  # set once registered and caught up
        self.server: MapServer | None = None
        self.queue_watch, self.build_watch = health.QueueWatch(poll_interval), health.BuildWatch()

    # -- lifecycle

    def start(self) -> "Bot":
        s = self.settings
        self.io = self._client_factory()
        profile = self.io.call("get_profile")
        self.own_id, self.own_name = int(profile["user_id"]), profile["full_name"]
        log.info("Connected to %s as %s (feature level %s)", s.api_site or "Zulip", self.own_name,
                 self.io.feature_level)
        self.store = Store(s.database, retention_days=s.map_retention_days)
        self.builds = InProcessBuilds(self._embedder) if self._embedder else WorkerProcess()
        self.queries = InProcessQueries(self._embedder) if self._embedder else QueryProcess(s.embedder_spec())
        self.directory = Directory(self.io)
        check_post_stream(self.directory, s)  # the weekly post must not leak a private source
        self.ingestor = Ingestor(self.store, s.sources, self.io, self.directory, self.own_id,
                                 react_with=s.intro_reaction)
        self.refresher = Refresher(self.store, self._rebuild)
        self.departures = Departures(self.store, s.forget_departed_days, self.consent_changed)
        self.greeter = Greeter(self.store, self.io, self._source_named_in)
        self.cooldown = Cooldown(s.refresh_cooldown_minutes)
        self.links = self._start_web()
        if s.link_warning():
            log.warning(s.link_warning())
        self.answerers = {src.name: self._answerer(src) for src in s.sources}
        self.dispatcher = Dispatcher(self.io, self.directory, self.own_id, self.own_name, s.sources,
                                     lambda src: self.answerers[src.name], self.consent_changed,
                                     sources_of=self.store.sources_of, inbox=self.store,
                                     rate=CommandRate(s.commands_per_minute),
                                     consent_cooldown=ConsentCooldown(s.consent_cooldown_minutes))
        self.poster = WeeklyPoster(self.io, self.store, s, self.refresher, self.links,
                                   self._preview, service.describe_changes)
        self.scheduler = Scheduler(s, self.store, self.refresh_stale, self.poster.post_all, self._clock,
                                   nightly=self.refresh_nightly, forget=self.departures.forget_due)
        if self._background_schedules:
            self.scheduler.start()
        self._thread = threading.Thread(target=self._event_loop, name="zulip-events", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop in order: schedules, event loop, commands, web server, database. Calls
        to Zulip under way get one more attempt each, no waits (``ZulipIO.close``)."""
        self.io.close()
        log.info("Stopping: scheduler")
        self.scheduler.shutdown()
        log.info("Stopping: event loop")
        self._stopping.set()
        self._deregister()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.ingestor.close()
        log.info("Stopping: commands")
        self.dispatcher.close()
        self.refresher.close()  # a build under way writes to the store
        self.builds.close()
        self.queries.close()
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
        failures = 0
        while not self._stopping.is_set():
            try:
                queue_id = self._queue_id or self._register()
                if self._stopping.is_set():
                    break
                answer = self.io.call("get_events", queue_id=queue_id,
                                      last_event_id=self._last_event_id)
                self.queue_watch.polled(answer["events"])
                self._handle_events(answer["events"])
                failures = 0
            except ZulipError as exc:
                self.queue_watch.failed(f"the event queue failed ({exc.code})")
                self._queue_failed(exc)
            except Exception:
                self.queue_watch.failed("the event loop keeps failing; see the log")
                # The events not handled yet are not acknowledged: the next poll gets
                # them again, so a passing failure (a locked database) loses nothing.
                failures += 1
                log.exception("Event loop error (%d in a row); trying again", failures)
                self._stopping.wait(min(ERROR_PAUSE * 2 ** (failures - 1), MAX_ERROR_PAUSE))

    def _handle_events(self, events: list[dict]) -> None:
        """Handle each event, acknowledging it only once it is stored and, if it is a
        command, recorded in the inbox. An event that fails EVENT_ATTEMPTS times in a row
        is skipped (logged), so one bad event cannot stop the bot; the full read at the
        next start reads its message again, and so does the commands' catch-up: the
        commands are not marked seen past a skipped message until a catch-up has read it."""
        newest = None
        for event in events:
            event_id = int(event["id"])
            try:
                self.handle_event(event)
            except Exception:
                attempts = self._event_failures.get(event_id, 0) + 1
                self._event_failures = {event_id: attempts}
                if attempts < EVENT_ATTEMPTS:
                    raise
                log.exception("Skipping event %s after %d failed attempts", event_id, attempts)
                self._hold_commands_before(event)
            self._last_event_id = max(self._last_event_id, event_id)
            if event.get("type") == "message":
                newest = max(newest or 0, int(event["message"]["id"]))
        if newest is not None:
            self._commands_seen_through(min(newest, self._commands_held_at))

    def _hold_commands_before(self, event: dict) -> None:
        """A skipped message may be a command never recorded: keep it unseen."""
        if event.get("type") == "message":
            self._commands_held_at = min(self._commands_held_at, int(event["message"]["id"]) - 1)

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
                              client_gravatar=True, client_capabilities=CLIENT_CAPABILITIES)
        self._queue_id, self._last_event_id = answer["queue_id"], int(answer["last_event_id"])
        log.info("Registered event queue %s", self._queue_id)
        self.queue_watch.polled([])  # a new queue is an answer from Zulip
        first = not self._resynced
        try:
            self._catch_up_content(first)
            if first:
                self.departures.check(self.directory)  # deactivated while the bot was down
                resumed = self.dispatcher.resume()
                if resumed:
                    log.info("Answering %d command(s) left unanswered at the last stop", resumed)
            self._catch_up_commands(int(answer["max_message_id"]))
        except BaseException:
            self._queue_id = None  # register and read again: the gap must be read
            raise
        self._resynced = True
        self.ready.set()
        return self._queue_id

    def _catch_up_content(self, first: bool) -> None:
        """The first time in this process, read every source in full (edits and deletions
        made while the bot was down); after a re-registration the gap since is enough.
        A source with no map yet is built at once, not after the debounce."""
        catch_up = self.ingestor.resync if first else self.ingestor.backfill
        for source in self.settings.sources:
            interrupted = self.refresher.is_stale(source) and self.store.message_count(source.name)
            if catch_up(source) or interrupted:  # new content, or a build a crash cut short
                never_built = self.store.snapshot_info(source.name) is None
                self.content_changed(at_once=never_built)

    def _catch_up_commands(self, up_to: int) -> None:
        """Answer the DMs and mentions sent while no queue was listening (the bot down,
        starting, or its queue gone), up to this registration: later ones come as events.
        The inbox makes sure that none is answered twice."""
        seen = self.store.get_state(COMMANDS_SEEN_KEY)
        after = max(int(seen) if seen is not None else first_start_anchor(self.io, up_to), 0)
        if after < up_to:  # Zulip's anchors start at 0; -1 means no message exists yet
            for narrow in COMMAND_NARROWS:
                for page in self.io.pages(narrow, after, COMMAND_PAGE):
                    for message in page:
                        if int(message["id"]) <= up_to:
                            self.dispatcher.submit(message)
                    if page and int(page[-1]["id"]) >= up_to:
                        break
        self._commands_held_at = math.inf  # read again just now, skipped messages included
        self._commands_seen_through(up_to)

    def _commands_seen_through(self, message_id: int) -> None:
        seen = self.store.get_state(COMMANDS_SEEN_KEY)
        if seen is None or int(seen) < message_id:
            self.store.set_state(COMMANDS_SEEN_KEY, str(message_id))

    def _deregister(self) -> None:
        queue_id, self._queue_id = self._queue_id, None
        if queue_id is not None:
            try:
                self.io.client.deregister(queue_id, timeout=5)
            except Exception as exc:  # the server may be gone already
                log.info("Could not delete event queue %s: %s", queue_id, exc)

    def handle_event(self, event: dict) -> None:
        """Store what the event changes and record it if it is a command; a failure raises,
        so that the event is not acknowledged and comes again."""
        if event.get("type") in ACCESS_EVENTS:
            self.directory.forget()  # a permission change counts at once, not after the cache time
        if self.ingestor.handle_event(event):
            self.content_changed()
        self.departures.handle_event(event)
        self.greeter.handle_event(event)
        if event.get("type") == "message":
            self.dispatcher.submit(event["message"])

    def consent_changed(self) -> None:
        """Someone opted out or in: delete the map files no longer servable, then rebuild."""
        for source in self.settings.sources:
            folder = maps_dir(self.settings.data_dir, source.name)
            service.prune_files(self.store, source.name, folder)
            self.links.prune(source.name, folder)
        self.content_changed(postpone=False)  # toggling must not hold the rebuild off

    def content_changed(self, at_once: bool = False, postpone: bool = True) -> None:
        for source in self.settings.sources:
            self.refresher.mark_dirty(source)
        self.scheduler.debounce(at_once, postpone)

    # -- maps

    def _rebuild(self, source) -> service.RebuildResult:
        s = self.settings
        names = service.NamePolicy(s.pseudonymize, s.keep_names, s.random_state, site=s.api_site)
        refit = source.name in self._refit
        with self.build_watch.build():
            built = self.builds.run(BuildJob(
                s.database, s.map_retention_days, source.name, s.pipeline_params(), s.embedder_spec(),
                outputs=maps_dir(s.data_dir, source.name), names=names, title=f"Introductions in {source.stream}",
                refit=refit))
        if refit:
            self._refit.discard(source.name)
        self._warm(source)
        return built

    def _warm(self, source) -> None:
        """Read the new map in for commands before the build counts as done: commands go
        on being answered from the previous map meanwhile, and whoever waited for the build
        (a `refresh`) is then answered from the new one."""
        try:
            self.answerers[source.name].warm()
        except Exception:  # the bot is stopping, say: the first command does this itself
            log.info("Could not read the new map of %s ahead of commands", source.name, exc_info=True)

    def refresh_nightly(self) -> None:
        """The nightly build: a map with newcomers only placed on an older fit since its
        last full fit is fitted afresh; then every stale source is rebuilt."""
        for source in self.settings.sources:
            latest = self.answerers[source.name].latest_map()  # read once per snapshot, kept
            if latest is not None and latest.params.get("resolved", {}).get("layout_update") == "transform":
                self._refit.add(source.name)
            while source.name in self._refit:  # a build joined under way may not have refitted
                self.refresher.refresh(source)
        self.refresh_stale()

    def refresh_stale(self) -> None:
        for source in self.settings.sources:
            while self.refresher.refresh_if_stale(source) is not None:
                pass  # content arrived during the build (its own debounce was skipped): again

    def _map_file(self, source: str, snapshot_id: int, suffix: str) -> Path | None:
        if source not in {src.name for src in self.settings.sources}:
            return None  # never build a path from an unknown name
        return service.map_file(self.store, maps_dir(self.settings.data_dir, source), snapshot_id, suffix)

    def _lookup(self, source: str, snapshot_id: int) -> Path | None:
        return self._map_file(source, snapshot_id, ".html")

    def _preview(self, source: str, snapshot_id: int) -> Path | None:
        return self._map_file(source, snapshot_id, ".png")

    def _start_web(self) -> MapLinks:
        s = self.settings
        signer, server_url = None, ""
        if s.web_mode == "serve":
            signer = Signer(load_or_create_secret(s.data_dir))
            self.server = MapServer(s.web_host, s.web_port, signer, self._lookup,
                                    health=lambda: health.of_bot(self),
                                    metrics=metrics.exposition if s.metrics else None).start()
            server_url = self.server.base_url
        return MapLinks(s.web_mode, signer, self._lookup, s.link_ttl_hours, s.public_url,
                        s.map_dir, server_url=server_url)

    # -- commands

    def _source_named_in(self, stream: str) -> str:
        """The first source, as named in a post to `stream`: by name only if everyone there
        may read it (a private source's name is not told to others, issue 21.10)."""
        source = self.settings.sources[0]
        return source.describe() if self.directory.may_post(stream, source.stream) else PRIVATE_SOURCE

    def _answerer(self, source) -> Answerer:
        latest = (lambda: self._latest_link(source)) if self.settings.web_mode != "off" else None
        return Answerer(self.store, source.name, latest, refresh=lambda asker: self._refresh_command(source, asker),
                        status_extra=self._status_extra, join_where=source.describe(),
                        default_k=self.settings.neighbours_k, mentions=True,
                        rebuild_minutes=self.settings.debounce_minutes, encode=self.queries)

    def _latest_link(self, source) -> str:
        info = self.store.snapshot_info(source.name)
        return (self.links.mint_url(source.name, info[0]) if info else None) or "(no map file yet)"

    def _refresh_command(self, source, asker: Asker) -> str:
        """Replies at once; the build runs on its own worker and its result follows."""
        return refresh_command(self.refresher, self.cooldown, source, asker.user_id,
                               lambda built: self._refreshed(source, built))

    def _refreshed(self, source, built: service.RebuildResult) -> str:
        link = self.links.mint_url(source.name, built.snapshot_id) if built.snapshot_id else None
        lines = [f"Refreshed: {len(built.result)} people in {len(built.result.clusters)} groups."]
        lines += [f"- {line}" for line in built.changes]
        lines.append(f"[open the map]({link})" if link else "The map isn't published anywhere from here.")
        return "\n".join(lines)

    def _status_extra(self) -> str:
        upcoming = self.scheduler.next_run("weekly-post")
        post = f"Next weekly post: {zulip_time(upcoming)}." if upcoming else "No weekly post is scheduled."
        return "\n".join([post] + health.describe(health.of_bot(self)))


def run(settings) -> None:
    """Run the bot until SIGTERM or SIGINT, then stop it in order."""
    settings.check_runnable()
    io = ZulipIO(str(settings.path))
    at_start(settings, io)  # every problem `batchviz check` would find, at once; else SettingsError
    stop_requested = threading.Event()

    def on_signal(signum, _frame) -> None:
        log.info("Received %s; shutting down", signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    prefer_answers()
    bot = Bot(settings, client_factory=lambda: io).start()
    probe_running(settings)  # the map server is up now: does public_url lead to it?
    while not stop_requested.wait(1.0):
        pass
    bot.stop()
