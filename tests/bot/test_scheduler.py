"""Schedules with a controlled clock: cron jobs, catch-up after downtime, debounce."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from bot.scheduler import DEBOUNCE_ID, JOB_DEFAULTS, Scheduler
from bot.settings import default_settings
from storage import Store

MONDAY_9 = datetime(2024, 1, 1, 9, 0, tzinfo=timezone.utc)  # a Monday
YEARLY = "0 3 1 1 *"  # a refresh that stays out of the way of the weekly post's tests


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "bot.sqlite3") as opened:
        yield opened


@pytest.fixture
def ran():
    return []


@pytest.fixture
def clock():
    return Clock(MONDAY_9)


def make_scheduler(tmp_path, store, ran, clock, **overrides) -> Scheduler:
    settings = default_settings(tmp_path, source_stream="welcome", post_cron="0 10 * * mon",
                                refresh_cron="0 3 * * *", debounce_minutes=5, **overrides)
    return Scheduler(settings, store, lambda: ran.append("refresh"), lambda run: ran.append("post"), clock)


def test_first_start_runs_nothing_then_cron_times_fire_once(tmp_path, store, ran, clock):
    """Nothing runs at the very first start; each cron time passed runs its job once."""
    scheduler = make_scheduler(tmp_path, store, ran, clock)
    assert scheduler.run_due() == []
    assert scheduler.run_due(MONDAY_9 + timedelta(hours=1, minutes=1)) == ["weekly-post"]
    assert scheduler.run_due(MONDAY_9 + timedelta(hours=2)) == []
    assert scheduler.run_due(MONDAY_9 + timedelta(hours=18, minutes=1)) == ["refresh"]
    assert ran == ["post", "refresh"]


def test_missed_weekly_post_runs_once_after_downtime(tmp_path, store, ran, clock):
    """Three weeks down: the post runs once on start, not three times."""
    scheduler = make_scheduler(tmp_path, store, ran, clock)
    scheduler.run_due()
    restarted = make_scheduler(tmp_path, store, ran, clock)
    assert restarted.run_due(MONDAY_9 + timedelta(weeks=3)).count("weekly-post") == 1
    assert restarted.run_due(MONDAY_9 + timedelta(weeks=3, minutes=1)) == []
    assert ran.count("post") == 1


def test_debounce_is_replaced_by_each_new_introduction(tmp_path, store, ran, clock):
    """A second new introduction pushes the debounced refresh back; it then runs once."""
    scheduler = make_scheduler(tmp_path, store, ran, clock)
    scheduler.run_due()
    scheduler.debounce()
    clock.now += timedelta(minutes=3)
    scheduler.debounce()
    clock.now += timedelta(minutes=3)
    assert scheduler.run_due() == []
    clock.now += timedelta(minutes=3)
    assert scheduler.run_due() == ["debounced-refresh"]
    assert scheduler.run_due() == []
    assert ran == ["refresh"]


def test_a_failing_refresh_is_logged_and_recorded(tmp_path, store, clock, caplog):
    """A refresh that raises does not escape the scheduler, and is not retried in a loop."""
    settings = default_settings(tmp_path, source_stream="welcome", refresh_cron="0 3 * * *")

    def broken():
        raise RuntimeError("boom")

    scheduler = Scheduler(settings, store, broken, lambda run: None, clock)
    scheduler.run_due()
    later = MONDAY_9 + timedelta(hours=18, minutes=1)
    assert "refresh" in scheduler.run_due(later)
    assert "boom" in caplog.text
    assert scheduler.run_due(later) == []


def test_a_failed_weekly_post_is_retried_with_backoff_until_posted(tmp_path, store, clock):
    """A failing post is tried again after 1, 2, 4 … minutes (at most an hour), never in a
    loop; each try gets the same run id; once it succeeds the run is recorded."""
    runs, failures = [], [RuntimeError("Zulip is down")] * 8

    def post(run):
        runs.append(run)
        if failures:
            raise failures.pop()

    settings = default_settings(tmp_path, source_stream="welcome", post_cron="0 10 * * mon", refresh_cron=YEARLY)
    scheduler = Scheduler(settings, store, lambda: None, post, clock)
    scheduler.run_due()
    now = MONDAY_9 + timedelta(hours=1)
    assert scheduler.run_due(now) == ["weekly-post"]
    waits = []
    while scheduler.retry_at is not None:
        assert scheduler.run_due(scheduler.retry_at - timedelta(seconds=1)) == []  # not before its time
        waits.append(scheduler.retry_at - now)
        now = scheduler.retry_at
        assert scheduler.run_due(now) == ["weekly-post"]
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)]
    assert len(set(runs)) == 1 and len(runs) == 9  # the same run, until it was posted
    assert scheduler.run_due(now + timedelta(days=6)) == []  # recorded: nothing due until next week
    assert scheduler.run_due(MONDAY_9 + timedelta(weeks=1, hours=1)) == ["weekly-post"]
    assert runs[-1] != runs[0]  # next week is another run


def test_retries_of_a_failing_post_stop_when_the_next_post_is_due(tmp_path, store, clock):
    """Failing all week long: the retries give way to the next scheduled post."""
    def post(run):
        raise RuntimeError("the post stream is gone")

    settings = default_settings(tmp_path, source_stream="welcome", post_cron="0 10 * * mon", refresh_cron=YEARLY)
    scheduler = Scheduler(settings, store, lambda: None, post, clock)
    scheduler.run_due()
    now = MONDAY_9 + timedelta(hours=1)
    next_post, tried = MONDAY_9 + timedelta(weeks=1, hours=1), []
    scheduler.run_due(now)
    while now < next_post:
        now = scheduler.retry_at
        tried.append(now)
        assert scheduler.run_due(now) == ["weekly-post"]
    assert tried[-1] == next_post and tried[-2] > next_post - timedelta(hours=1)  # hourly, then the next post


def test_timezone_of_the_schedule(tmp_path, store, ran):
    """Cron times are read in the configured time zone."""
    clock = Clock(datetime(2024, 1, 1, 8, 0, tzinfo=timezone.utc))
    scheduler = make_scheduler(tmp_path, store, ran, clock, timezone="Europe/Paris")
    scheduler.run_due()
    assert scheduler.run_due(datetime(2024, 1, 1, 9, 1, tzinfo=timezone.utc)) == ["weekly-post"]


def background_only(scheduler: Scheduler) -> Scheduler:
    """Started in the background without the start-up catch-up job, which races a debounce."""
    scheduler._background = BackgroundScheduler(timezone=scheduler.tz, job_defaults=JOB_DEFAULTS)
    scheduler._background.start()
    return scheduler


def test_debounce_requested_during_a_running_refresh_is_not_lost(tmp_path, store, wait_for):
    """A debounced refresh that falls due while the previous one runs still runs afterwards."""
    started, release, runs = threading.Event(), threading.Event(), []

    def slow_refresh():
        runs.append(len(runs) + 1)
        started.set()
        release.wait(10)

    settings = default_settings(tmp_path, source_stream="welcome", debounce_minutes=0)
    scheduler = background_only(Scheduler(settings, store, slow_refresh, lambda: None))
    try:
        scheduler.debounce()
        assert started.wait(10)
        scheduler.debounce()  # due at once, while the first run is still going
        # APScheduler drops a date job once it fired it, or skipped it as this one is
        wait_for(lambda: scheduler._background.get_job(DEBOUNCE_ID) is None, what="the second job to fire")
        release.set()
        wait_for(lambda: len(runs) >= 2, what="the second run")
    finally:
        release.set()
        scheduler.shutdown()
    assert runs == [1, 2]


def test_shutdown_waits_for_a_running_job(tmp_path, store, wait_for):
    """shutdown() returns only after a running refresh finished (it writes to the store)."""
    started, finished = threading.Event(), []

    def refresh():
        started.set()
        wait_for(lambda: scheduler._stopped, what="shutdown to begin")  # still running then
        finished.append("refresh")

    settings = default_settings(tmp_path, source_stream="welcome", debounce_minutes=0)
    scheduler = background_only(Scheduler(settings, store, refresh, lambda: None))
    scheduler.debounce()
    assert started.wait(10)
    # fired: APScheduler drops a date job (shutting down before that raises in its thread)
    wait_for(lambda: scheduler._background.get_job(DEBOUNCE_ID) is None, what="the job to be dropped")
    scheduler.shutdown()
    assert finished == ["refresh"]


def test_skip_warning_is_dropped_only_for_the_debounced_job(tmp_path, store, ran, clock, caplog):
    """APScheduler's 'skipped' warning for the re-running debounced job is noise; others stay."""
    scheduler = make_scheduler(tmp_path, store, ran, clock)
    scheduler.start()
    try:
        logger = logging.getLogger("apscheduler.scheduler")
        template = 'Execution of job "{} (trigger: date)" skipped: maximum number of running instances reached (1)'
        with caplog.at_level("WARNING", logger="apscheduler.scheduler"):
            logger.warning(template.format(DEBOUNCE_ID))
            logger.warning(template.format("weekly-post"))
    finally:
        scheduler.shutdown()
    messages = [r.getMessage() for r in caplog.records if r.name == "apscheduler.scheduler"]
    assert [m for m in messages if "skipped" in m] == [template.format("weekly-post")]


def test_stopping_right_after_starting_raises_nothing_in_any_thread(tmp_path, store, ran, clock, monkeypatch):
    """A bot stopped as soon as it started leaves no exception in the scheduler's threads."""
    errors = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    for _ in range(30):
        scheduler = make_scheduler(tmp_path, store, ran, clock)
        scheduler.start()
        scheduler.shutdown()
    assert errors == []


def test_the_running_scheduler_retries_a_failed_post_by_itself(tmp_path, store, wait_for, monkeypatch):
    """In the background (APScheduler), the retry fires on its own; backoff scaled to 50 ms."""
    monkeypatch.setattr("bot.scheduler.RETRY_FIRST", timedelta(milliseconds=50))
    tries = []

    def post(run):
        tries.append(run)
        if len(tries) < 3:
            raise RuntimeError("Zulip is down")

    settings = default_settings(tmp_path, source_stream="welcome", post_cron="0 10 * * mon", refresh_cron=YEARLY)
    scheduler = background_only(Scheduler(settings, store, lambda: None, post))
    try:
        scheduler.run("weekly-post")
        wait_for(lambda: len(tries) == 3 and scheduler.retry_at is None, what="two retries, then the post")
    finally:
        scheduler.shutdown()
    assert store.get_state("schedule.weekly-post.last_run") is not None
