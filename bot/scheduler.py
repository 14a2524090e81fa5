"""The bot's schedules: nightly refresh, weekly post, debounced refresh after new posts.

APScheduler 3.x fires the jobs while the bot runs. Its memory job store forgets
everything on restart, so when each schedule last ran is kept in the store, and
`run_due(now)` — called once at start, and by tests with a controlled clock — runs any
schedule whose cron time passed since then (once, however many times it was missed).

The weekly post is retried: a run that fails is not recorded, and is tried again after
a backoff (1 minute, doubling, at most an hour) until it succeeds or the next post is
due, which then takes over. Its action gets the run's id (the last recorded run), so a
retry skips what the failed attempt did post.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

log = logging.getLogger(__name__)

LAST_RUN_KEY = "schedule.{name}.last_run"
DEBOUNCE_ID = "debounced-refresh"
AT_ONCE_ID = "refresh-at-once"  # the first map of a source, built without waiting
FORGET_ID, FORGET_EVERY = "forget-departed", timedelta(minutes=15)  # forgets people who left, when due
RETRIED = "weekly-post"  # the job retried with backoff after a failure
RETRY_FIRST, RETRY_CEILING = timedelta(minutes=1), timedelta(hours=1)
JOB_DEFAULTS = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 3600}


class _DebounceSkipFilter(logging.Filter):
    """Drops APScheduler's warning that the debounced job was skipped while it ran:
    `_run_debounced` runs again for such a request, so nothing was lost."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (DEBOUNCE_ID in message and "maximum number of running instances" in message)


_SKIP_FILTER = _DebounceSkipFilter()


class Scheduler:
    """Named cron jobs plus one debounced job; each run is recorded in the store."""

    def __init__(self, settings, store, refresh: Callable[[], None], post: Callable[[str], None],
                 clock: Callable[[], datetime] | None = None, nightly: Callable[[], None] | None = None,
                 forget: Callable[[], object] = lambda: None):
        self.tz = ZoneInfo(settings.timezone)
        self.store = store
        self.clock = clock or (lambda: datetime.now(self.tz))
        self.debounce_delay = timedelta(minutes=settings.debounce_minutes)
        self.triggers = {
            "refresh": CronTrigger.from_crontab(settings.refresh_cron, timezone=self.tz),
            "weekly-post": CronTrigger.from_crontab(settings.post_cron, timezone=self.tz),
        }
        self.actions = {"refresh": nightly or refresh, DEBOUNCE_ID: refresh, FORGET_ID: forget,
                        RETRIED: lambda: post(self.store.get_state(LAST_RUN_KEY.format(name=RETRIED)) or "")}
        self.debounce_at: datetime | None = None
        self.retry_at: datetime | None = None  # when the failed weekly post is tried again
        self._failures = 0
        self._background: BackgroundScheduler | None = None
        self._catch_up: threading.Thread | None = None
        self._lock = threading.Lock()
        self._job_locks = {name: threading.Lock() for name in self.actions}
        self._stopped = False

    # -- lifecycle

    def start(self) -> None:
        """Start firing jobs in the background; catch up on missed ones right away."""
        background = BackgroundScheduler(timezone=self.tz, job_defaults=JOB_DEFAULTS)
        logging.getLogger("apscheduler.scheduler").addFilter(_SKIP_FILTER)  # once: same object
        for name, trigger in self.triggers.items():
            background.add_job(self.run, trigger, args=[name], id=name, name=name)
        # no catch-up needed: each run forgets whoever is due by then
        background.add_job(self.run, "interval", seconds=FORGET_EVERY.total_seconds(), args=[FORGET_ID],
                           id=FORGET_ID, name=FORGET_ID)
        background.start()
        self._background = background
        # Not a one-off APScheduler job: APScheduler 3 raises in its own thread when such a
        # job finishes while the scheduler shuts down (JobLookupError on removing it).
        self._catch_up = threading.Thread(target=self.run_due, name="schedule-catch-up", daemon=True)
        self._catch_up.start()
        log.info("Scheduler started; next weekly post %s", self.next_run("weekly-post"))

    def shutdown(self) -> None:
        """Stop firing jobs and wait for a running one, which may still write to the store."""
        with self._lock:
            self._stopped = True
        if self._background is not None:
            self._background.shutdown(wait=True)
            self._background = None
        if self._catch_up is not None:
            self._catch_up.join()
            self._catch_up = None

    # -- running

    def run(self, name: str, now: datetime | None = None) -> None:
        """Run one job and record when (`now`, default the clock); a failure is logged,
        and a failed weekly post is left unrecorded and tried again later."""
        now = now or self.clock()
        with self._job_locks[name]:  # the weekly post's retry and its cron run never overlap
            log.info("Running scheduled job %s", name)
            try:
                self.actions[name]()
            except Exception:
                log.exception("Scheduled job %s failed", name)
                if name == RETRIED:
                    self._retry_later(now)
                    return
            if name == RETRIED:
                with self._lock:
                    self.retry_at, self._failures = None, 0
            if name in self.triggers:
                self.store.set_state(LAST_RUN_KEY.format(name=name), now.isoformat())

    def run_due(self, now: datetime | None = None) -> list[str]:
        """Run every job whose time came since it last ran (a failed weekly post: once
        its retry time came); the names run."""
        now = now or self.clock()
        due = [name for name in self.triggers if self._due(name, now)]
        with self._lock:
            if self.debounce_at is not None and self.debounce_at <= now:
                self.debounce_at = None
                due.append(DEBOUNCE_ID)
        for name in due:
            self.run(name, now)
        return due

    def _retry_later(self, now: datetime) -> None:
        with self._lock:
            self._failures += 1
            delay = min(RETRY_FIRST * 2 ** min(self._failures - 1, 16), RETRY_CEILING)
            next_post = self.triggers[RETRIED].get_next_fire_time(None, now + timedelta(microseconds=1))
            if next_post is not None and next_post <= now + delay:
                self.retry_at = next_post  # the cron run then posts instead
            else:
                self.retry_at = now + delay
            retry_at, stopped = self.retry_at, self._stopped
        if retry_at == next_post:
            log.error("The weekly post failed; the next one, at %s, will post instead", next_post)
            return
        log.warning("The weekly post failed; trying again at %s", retry_at)
        if self._background is not None and not stopped:
            self._background.add_job(self.run, "date", run_date=retry_at, args=[RETRIED],
                                     id=f"{RETRIED}-retry", name=f"{RETRIED}-retry", replace_existing=True)

    def _due(self, name: str, now: datetime) -> bool:
        with self._lock:
            if name == RETRIED and self.retry_at is not None:
                return self.retry_at <= now
        key = LAST_RUN_KEY.format(name=name)
        last = self.store.get_state(key)
        if last is None:  # first start ever: nothing was missed
            self.store.set_state(key, now.isoformat())
            return False
        after = datetime.fromisoformat(last) + timedelta(microseconds=1)
        fire = self.triggers[name].get_next_fire_time(None, after)
        return fire is not None and fire <= now

    # -- debounce and status

    def debounce(self, at_once: bool = False, postpone: bool = True) -> datetime:
        """(Re)start the countdown to a refresh after the latest new introduction; with
        `at_once` (a source with no map yet), a refresh also runs right away. Without
        `postpone` (a consent change), a countdown already running is kept as it is."""
        if at_once and self._background is not None:
            self._background.add_job(self.run, "date", args=[DEBOUNCE_ID], id=AT_ONCE_ID,
                                     name=AT_ONCE_ID, replace_existing=True)
        at = self.clock() + self.debounce_delay
        with self._lock:
            if not postpone and self.debounce_at is not None:
                return self.debounce_at
            self.debounce_at = at
        if self._background is not None:
            self._background.add_job(self._run_debounced, "date", run_date=at, id=DEBOUNCE_ID,
                                     name=DEBOUNCE_ID, replace_existing=True)
        return at

    def _run_debounced(self) -> None:
        """Run the debounced refresh; again if a request fell due while it ran (APScheduler
        skips a job whose previous run is still going, which would lose that request)."""
        again = True
        while again:
            with self._lock:
                self.debounce_at = None
            self.run(DEBOUNCE_ID)
            with self._lock:
                again = (not self._stopped and self.debounce_at is not None
                         and self.debounce_at <= self.clock())

    def next_run(self, name: str) -> datetime | None:
        return self.triggers[name].get_next_fire_time(None, self.clock())
