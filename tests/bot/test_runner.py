"""The running bot against the test server: events, queue expiry, faults, commands, posts."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import Future
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path


from bot.greeting import HELLO_TOPIC
from bot.refresh import JOINED, STARTED, Refresher
from bot.runner import EVENT_ATTEMPTS
from bot.settings import Source
from held_build import HeldEmbedder
from pipeline.embed import HashingEmbedder
from pipeline.errors import ModelLoadError
from storage import Store

MONDAY_9 = datetime(2024, 1, 1, 9, 0, tzinfo=timezone.utc)
INTROS = {
    "alice": "I love sailing, knots and boats on the sea.",
    "bob": "Baking sourdough bread and pastry is my weekend.",
    "carol": "Sailing the coast in small boats, and knots.",
    "dave": "Bread, pastry, sourdough: I bake every day.",
}


def replies_to(realm, person) -> list[str]:
    """What the bot sent that `person` can read, oldest first."""
    return [m.content for m in realm.server.messages_sent_by(realm.bot)
            if person.user_id in m.recipients or m.type == "stream"]


def stream_posts(realm, stream: str, topic: str) -> list[str]:
    stream_id = realm.server.realm.stream(stream).stream_id
    return [m.content for m in realm.server.messages_sent_by(realm.bot)
            if m.type == "stream" and m.stream_id == stream_id and m.topic == topic]


def post_intros(realm) -> dict[str, int]:
    """Four introductions in the welcome topic; their message ids by person."""
    server = realm.server
    carol, dave = server.add_user("Carol Cook"), server.add_user("Dave Diver")
    for person in (carol, dave):
        server.subscribe(person, realm.welcome)
    people = {"alice": realm.alice, "bob": realm.bob, "carol": carol, "dave": dave}
    return {key: server.send_stream_message(people[key], realm.welcome, realm.topic, text)
            for key, text in INTROS.items()}


def test_live_messages_edits_and_deletions_reach_the_store(realm, start_bot, wait_for):
    """A posted, edited and deleted introduction is followed in the store."""
    bot, server = start_bot(), realm.server
    wait_for(lambda: server.count("POST /register") == 1, what="registration")
    message_id = server.send_stream_message(realm.alice, realm.welcome, realm.topic, "I juggle")
    wait_for(lambda: bot.store.message_count("main") == 1, what="the new introduction")
    server.edit_message(message_id, content="I juggle and unicycle")
    wait_for(lambda: "unicycle" in bot.store.documents("main")[0].raw, what="the edit")
    server.delete_message(message_id)
    wait_for(lambda: bot.store.message_count("main") == 0, what="the deletion")
    assert bot.scheduler.debounce_at is not None


def test_queue_expiry_loses_and_doubles_nothing(realm, start_bot, wait_for):
    """Messages sent while the queue was gone are backfilled; a command is answered once."""
    bot, server = start_bot(), realm.server
    server.send_dm(realm.alice, realm.bot, "help")
    wait_for(lambda: replies_to(realm, realm.alice), what="the first reply")
    server.send_stream_message(realm.alice, realm.welcome, realm.topic, "before the gap")
    wait_for(lambda: bot.store.message_count("main") == 1, what="the first introduction")
    server.drop_next(1, path_prefix="/register", after=0.3)  # re-registration is slow
    server.expire_queues()
    for person in (realm.bob, realm.alice):
        server.send_stream_message(person, realm.welcome, realm.topic, f"in the gap: {person.full_name}")
    wait_for(lambda: bot.store.message_count("main") == 3, what="the backfill")
    server.send_stream_message(realm.bob, realm.welcome, realm.topic, "after the gap")
    wait_for(lambda: bot.store.message_count("main") == 4, what="the live message after")
    assert server.count("POST /register") >= 2
    assert len(replies_to(realm, realm.alice)) == 1
    anchors = [r.params.get("anchor") for r in server.request_log if r.endpoint == "GET /messages"]
    assert anchors[0] == "oldest" and "oldest" not in anchors[1:]  # full read at start only


def test_event_errors_are_retried(realm, start_bot, wait_for, sleeps):
    """A 429 and 5xx answers on GET /events are waited out and events keep flowing."""
    bot, server = start_bot(), realm.server
    wait_for(lambda: server.count("POST /register") == 1, what="registration")
    server.rate_limit_next(1, retry_after=3, path_prefix="/events")
    server.fail_next(2, status=502, path_prefix="/events")
    wait_for(lambda: len(sleeps.asked) == 3, what="three retries")
    server.send_stream_message(realm.alice, realm.welcome, realm.topic, "still here")
    wait_for(lambda: bot.store.message_count("main") == 1, what="the message after the faults")
    assert sleeps.asked[0] == 3.0


def test_start_warns_when_map_links_only_work_locally(realm, start_bot, make_settings, caplog):
    """Map server on loopback and no public_url: start-up warns once; with public_url it doesn't."""
    caplog.set_level(logging.WARNING, logger="bot.runner")
    start_bot()
    assert sum("public_url is unset" in r.getMessage() for r in caplog.records) == 1
    caplog.clear()
    start_bot(make_settings("public_url = https://maps.example.org\n"))
    assert not any("public_url" in r.getMessage() for r in caplog.records)


def test_hello_once_in_a_stream_the_bot_is_added_to(realm, start_bot, wait_for):
    """Added to a stream, the bot says one short hello there; added again later, it doesn't."""
    start_bot()
    server = realm.server
    server.add_stream("random", subscribers=[realm.alice])
    server.subscribe(realm.bot, "random")
    wait_for(lambda: stream_posts(realm, "random", HELLO_TOPIC), what="the hello")
    server.realm.stream("random").subscribers.discard(realm.bot.user_id)
    server.subscribe(realm.bot, "random")
    server.send_dm(realm.alice, realm.bot, "help")  # handled after the second subscription
    wait_for(lambda: [m for m in server.messages_sent_by(realm.bot) if m.type != "stream"], what="help")
    hellos = stream_posts(realm, "random", HELLO_TOPIC)
    assert len(hellos) == 1 and hellos[0].startswith("Hello!") and "`help`" in hellos[0]


def _fail_on(bot, word: str, times: int) -> list[int]:
    """Make storing a message containing `word` fail `times` times; the failures counted."""
    original, failures = bot.ingestor.handle_event, []

    def fragile(event):
        if word in event.get("message", {}).get("content", "") and len(failures) < times:
            failures.append(1)
            raise RuntimeError("handler exploded")
        return original(event)

    bot.ingestor.handle_event = fragile
    return failures


def test_a_passing_failure_does_not_lose_the_message(realm, start_bot, wait_for, monkeypatch):
    """A message that fails to store (say, a locked database) is not acknowledged: the
    event comes again and the message is stored, and the ones after it too."""
    monkeypatch.setattr("bot.runner.ERROR_PAUSE", 0.05)
    bot, server = start_bot(), realm.server
    failures = _fail_on(bot, "flaky", times=2)
    server.send_stream_message(realm.alice, realm.welcome, realm.topic, "I am flaky but here")
    server.send_stream_message(realm.bob, realm.welcome, realm.topic, "I am fine")
    wait_for(lambda: bot.store.message_count("main") == 2, what="both messages stored")
    assert len(failures) == 2


def test_an_event_that_always_fails_is_skipped(realm, start_bot, wait_for, monkeypatch, caplog):
    """An event that keeps failing is given up after EVENT_ATTEMPTS, logged, and the next
    event is handled: one bad message cannot stop the bot."""
    monkeypatch.setattr("bot.runner.ERROR_PAUSE", 0.01)
    bot, server = start_bot(), realm.server
    failures = _fail_on(bot, "explode", times=10**6)
    server.send_stream_message(realm.alice, realm.welcome, realm.topic, "explode")
    server.send_stream_message(realm.bob, realm.welcome, realm.topic, "I am fine")
    wait_for(lambda: bot.store.message_count("main") == 1, what="the message after the failure")
    assert len(failures) == EVENT_ATTEMPTS
    assert "Skipping event" in caplog.text


def test_commands_by_dm_and_by_mention_anywhere(realm, start_bot, wait_for):
    """A DM is answered by DM; a mention in the middle of a stream message in that topic."""
    start_bot()
    server = realm.server
    server.send_dm(realm.alice, realm.bot, "help")
    [reply] = wait_for(lambda: replies_to(realm, realm.alice), what="the DM reply")
    assert "near me" in reply
    server.send_stream_message(realm.bob, "general", "chat", "what are the clusters @**Map Bot**?")
    [post] = wait_for(lambda: stream_posts(realm, "general", "chat"), what="the stream reply")
    assert "no map yet" in post.lower()
    server.send_stream_message(realm.other_bot, "general", "chat", "@**Map Bot** help")
    server.send_stream_message(realm.bob, "general", "chat", "no mention here: help")
    server.send_dm(realm.bob, realm.bot, "status")
    wait_for(lambda: [r for r in replies_to(realm, realm.bob) if "stored" in r], what="the status reply")
    assert len(stream_posts(realm, "general", "chat")) == 1


def test_private_source_refuses_non_subscribers(realm, make_settings, start_bot, wait_for):
    """With a private source stream, only its subscribers get answers."""
    server = realm.server
    server.add_stream("secret", invite_only=True, subscribers=[realm.bot, realm.alice])
    start_bot(make_settings(stream="secret", post_stream="secret"))
    server.send_dm(realm.bob, realm.bot, "map")
    [refusal] = wait_for(lambda: [m.content for m in server.messages_sent_by(realm.bot)
                                  if realm.bob.user_id in m.recipients], what="the refusal")
    assert "only answer people who can read" in refusal
    server.send_dm(realm.alice, realm.bot, "map")
    [answer] = wait_for(lambda: [m.content for m in server.messages_sent_by(realm.bot)
                                 if realm.alice.user_id in m.recipients], what="the answer")
    assert "only answer" not in answer


def test_refresh_command_replies_with_a_link_and_then_cools_down(realm, start_bot, wait_for):
    """`refresh` builds the map and links it; asking again at once is politely refused."""
    post_intros(realm)
    bot = start_bot()
    wait_for(lambda: bot.store.message_count("main") == 4, what="the backfill")
    realm.server.send_dm(realm.alice, realm.bot, "refresh")
    started, reply = wait_for(lambda: replies_to(realm, realm.alice)[1:] and replies_to(realm, realm.alice),
                              timeout=60, what="the refresh replies")
    assert started == STARTED and "Refreshed: 4 people" in reply and "/map/main/" in reply
    url = reply.split("[open the map](")[1].split(")")[0]
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200 and b"<html" in response.read().lower()
    realm.server.send_dm(realm.alice, realm.bot, "refresh")
    wait_for(lambda: len(replies_to(realm, realm.alice)) == 3, what="the third reply")
    assert "ask again in" in replies_to(realm, realm.alice)[2]


def test_refresh_answers_at_once_and_other_commands_keep_answering_during_the_build(
        realm, start_bot, wait_for):
    """Two `refresh`es during a build that cannot finish yet: each is answered at once (the
    second joins the first build), and `status` is answered meanwhile from the last map.
    The result follows as a second message to each asker once the one build is done."""
    post_intros(realm)
    embedder = HeldEmbedder()
    bot = start_bot(embedder=embedder)
    wait_for(lambda: bot.store.message_count("main") == 4, what="the backfill")
    server = realm.server
    embedder.hold()
    try:
        server.send_dm(realm.alice, realm.bot, "refresh")
        assert embedder.waiting.wait(30)
        server.send_dm(realm.bob, realm.bot, "refresh")
        server.send_dm(realm.bob, realm.bot, "status")
        server.send_dm(realm.alice, realm.bot, "help")
        wait_for(lambda: len(replies_to(realm, realm.bob)) == 2 and len(replies_to(realm, realm.alice)) == 2,
                 timeout=30, what="answers while the build is held")
        assert replies_to(realm, realm.alice)[0] == STARTED and replies_to(realm, realm.bob)[0] == JOINED
        assert "No map built yet." in replies_to(realm, realm.bob)[1]
        assert bot.store.snapshot_info("main") is None  # all of that while the build was held
    finally:
        embedder.release()
    for person, count in ((realm.alice, 3), (realm.bob, 3)):
        wait_for(lambda: len(replies_to(realm, person)) == count, timeout=60, what="the refresh result")
        assert replies_to(realm, person)[-1].startswith("Refreshed: 4 people")
    assert len(bot.store.snapshot_ids("main")) == 1  # one build for both


def test_weekly_post_through_the_scheduler(realm, start_bot, wait_for):
    """At the cron time the map is rebuilt, its PNG uploaded and posted with link and preview."""
    post_intros(realm)
    clock = type("Clock", (), {"now": MONDAY_9, "__call__": lambda self: self.now})()
    bot = start_bot(clock=clock)
    wait_for(lambda: bot.store.message_count("main") == 4, what="the backfill")
    assert bot.scheduler.run_due() == []
    assert "weekly-post" in bot.scheduler.run_due(MONDAY_9 + timedelta(hours=1, minutes=1))
    [post] = stream_posts(realm, "general", "maps")
    assert len(realm.server.uploads) == 1
    [upload_path] = realm.server.uploads
    assert f"[preview]({upload_path})" in post
    assert "/map/main/" in post and "4 people" in post


def test_missed_weekly_post_runs_once_at_start(realm, make_settings, start_bot, wait_for):
    """A weekly post due while the bot was down is made once, right after it starts."""
    post_intros(realm)
    settings = make_settings()
    with Store(settings.database) as store:
        store.set_state("schedule.weekly-post.last_run", (datetime.now(timezone.utc) - timedelta(days=8)).isoformat())
    start_bot(settings, background_schedules=True)
    wait_for(lambda: stream_posts(realm, "general", "maps"), timeout=60, what="the catch-up post")
    assert len(stream_posts(realm, "general", "maps")) == 1


def test_shutdown_is_ordered_and_logged(realm, make_settings, make_io, caplog):
    """stop() stops scheduler, event loop, web server and database, in that order."""
    from bot.runner import Bot

    caplog.set_level(logging.INFO)
    bot = Bot(make_settings(), client_factory=make_io).start()
    bot.stop()
    steps = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Stopping: ")]
    assert steps == ["Stopping: scheduler", "Stopping: event loop", "Stopping: commands",
                     "Stopping: map web server", "Stopping: database"]
    assert bot.store.closed and not bot._thread.is_alive()


def test_sigterm_stops_the_process(realm, tmp_path, wait_for):
    """`batchviz run` exits cleanly on SIGTERM after logging an ordered shutdown."""
    rc = realm.server.zuliprc(tmp_path, realm.bot, extra=(
        f"\n[batchviz]\nsource_stream = {realm.welcome}\nembedding_model = hashing\nweb_mode = off\n"))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--config", str(rc)],
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_for(lambda: realm.server.count("POST /register") == 1, timeout=60, what="the bot to register")
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0
    assert "Stopping: database" in stderr and realm.bot.api_key not in stderr


def test_a_failed_refresh_says_so_in_its_second_message(realm, start_bot, wait_for):
    """A build that fails after `refresh` was answered: the follow-up is a one-line error."""
    class BrokenEmbedder(HashingEmbedder):
        def encode(self, texts):
            raise ModelLoadError("the model files are missing")

    post_intros(realm)
    bot = start_bot(embedder=BrokenEmbedder())
    wait_for(lambda: bot.store.message_count("main") == 4, what="the backfill")
    realm.server.send_dm(realm.alice, realm.bot, "refresh")
    started, failed = wait_for(lambda: replies_to(realm, realm.alice)[1:] and replies_to(realm, realm.alice),
                               timeout=60, what="both replies")
    assert started == STARTED and failed == "Sorry, I couldn't do that: the model files are missing"
    assert bot.refresher.is_stale(bot.settings.sources[0])  # tried again by the next schedule


class HeldBuild:
    """A rebuild that records each call and waits until released; "map N" for the Nth."""

    def __init__(self):
        self.began, self.release, self.builds = threading.Event(), threading.Event(), []

    def __call__(self, source):
        self.builds.append(source.name)
        self.began.set()
        assert self.release.wait(10)
        return f"map {len(self.builds)}"


def test_concurrent_refreshes_are_coalesced(tmp_path):
    """A refresh asked for while one runs joins it: one build, the same result for all."""
    build = HeldBuild()
    with Store(tmp_path / "bot.sqlite3") as store:
        refresher = Refresher(store, build)
        source = Source("intro", "welcome")
        first = refresher.submit(source)
        joined = [refresher.submit(source) for _ in range(2)]
        build.release.set()
        results = [future.result(10) for future in [first, *joined]]
        refresher.close()
    assert build.builds == ["intro"] and results == ["map 1"] * 3 and all(f is first for f in joined)


def test_a_refresh_after_new_content_gets_the_next_build(tmp_path):
    """A refresh asked for after content changed under a running build is answered by the
    next build, which reads that content; one asked for before the change joins the first."""
    build = HeldBuild()
    with Store(tmp_path / "bot.sqlite3") as store:
        refresher = Refresher(store, build)
        source = Source("intro", "welcome")
        first = refresher.submit(source)
        assert build.began.wait(10)
        joined = refresher.submit(source)
        refresher.mark_dirty(source)  # a new introduction arrives while the build runs
        later = refresher.submit(source)
        build.release.set()
        results = [future.result(10) for future in (first, joined, later)]
        refresher.close()
    assert results == ["map 1", "map 1", "map 2"] and build.builds == ["intro", "intro"]


def test_a_build_finishing_as_a_refresh_chains_onto_it_does_not_deadlock(tmp_path):
    """The race of a stale build that finishes just as a refresh chains onto it: the chained
    callback then runs at once, in the asking thread, which must not hold the refresher's
    lock (it would wait for itself, and every later refresh and status with it)."""

    class JustFinished(Future):
        def running(self) -> bool:  # it was running when asked; it is done by now
            return True

    with Store(tmp_path / "bot.sqlite3") as store:
        refresher = Refresher(store, lambda source: "map 2")
        source = Source("intro", "welcome")
        finished = JustFinished()
        finished.set_result("map 1")
        refresher._running[source.name] = finished  # noqa: SLF001 - the race, made certain
        refresher.mark_dirty(source)
        asked: list[Future] = []
        asking = threading.Thread(target=lambda: asked.append(refresher.submit(source)), daemon=True)
        asking.start()
        asking.join(10)
        assert not asking.is_alive(), "submit deadlocked"
        assert asked[0].result(10) == "map 2"
        refresher.close()


def test_opting_out_schedules_a_rebuild_without_them(realm, start_bot, wait_for):
    """`opt out` deletes the person's introduction and makes the map due for a rebuild."""
    realm.server.send_stream_message(realm.alice, realm.welcome, realm.topic, "I fly kites")
    bot = start_bot()
    wait_for(lambda: bot.store.message_count("main") == 1, what="the backfill")
    bot.refresher.refresh(bot.settings.sources[0])
    assert not bot.refresher.is_stale(bot.settings.sources[0])
    realm.server.send_dm(realm.alice, realm.bot, "opt out")
    wait_for(lambda: replies_to(realm, realm.alice), what="the opt-out reply")
    assert bot.store.message_count("main") == 0 and bot.store.opted_out(str(realm.alice.user_id))
    assert bot.refresher.is_stale(bot.settings.sources[0])


def test_group_dms_need_a_mention(realm, start_bot, wait_for):
    """In a group DM the bot answers only when mentioned, and then by DM to the asker."""
    start_bot()
    server = realm.server
    server.send_dm(realm.alice, [realm.bot, realm.bob], "help")
    server.send_dm(realm.alice, [realm.bot, realm.bob], "show the map, @**Map Bot**")
    server.send_dm(realm.alice, realm.bot, "status")
    wait_for(lambda: len(server.messages_sent_by(realm.bot)) >= 2, what="the replies")
    replies = [m.content for m in server.messages_sent_by(realm.bot)]
    assert len(replies) == 2 and any("no map yet" in r.lower() for r in replies)
    assert not any("I map the introductions" in r for r in replies)


def test_a_failed_backfill_is_redone_after_registering_again(realm, start_bot):
    """If the backfill keeps failing, the bot registers again and reads the gap then."""
    realm.server.send_stream_message(realm.alice, realm.welcome, realm.topic, "I row")
    realm.server.fail_next(10, status=500, path_prefix="/messages")
    bot = start_bot()
    assert bot.store.message_count("main") == 1
    assert realm.server.count("POST /register") >= 2


def test_restart_resyncs_what_changed_while_down(realm, make_settings, make_io, start_bot, wait_for):
    """Stop the bot; edit, delete and move introductions; on restart the store matches Zulip."""
    from bot.runner import Bot

    ids = post_intros(realm)
    server, settings = realm.server, make_settings()
    first = Bot(settings, client_factory=make_io, background_schedules=False).start()
    assert first.ready.wait(30)
    assert first.store.message_count("main") == 4
    first.stop()
    server.edit_message(ids["alice"], content="I love sailing and now also kites.")
    server.delete_message(ids["bob"])
    server.edit_message(ids["carol"], topic="chit-chat", propagate_mode="change_one")
    bot = start_bot(settings)
    docs = {doc.name: doc.raw for doc in bot.store.documents("main")}
    assert docs == {"Alice Archer": "I love sailing and now also kites.", "Dave Diver": INTROS["dave"]}
    assert bot.store.message_count("main") == 2 and bot.scheduler.debounce_at is not None


def test_a_dm_is_answered_from_the_source_the_asker_introduced_themselves_in(
        realm, make_settings, start_bot, wait_for):
    """With two welcome topics, someone who posted only in the second gets its map by DM."""
    server = realm.server
    server.add_stream("alumni", subscribers=[realm.bot, realm.alice, realm.bob])
    server.send_stream_message(realm.alice, realm.welcome, realm.topic, "I write compilers in Rust.")
    server.send_stream_message(realm.bob, "alumni", "intros", "I bake bread and write about yeast.")
    bot = start_bot(make_settings("\n[batchviz:source alumni]\nstream = alumni\ntopic = intros\n"))
    wait_for(lambda: bot.store.message_count("alumni") == 1, what="the alumni backfill")
    server.send_dm(realm.bob, realm.bot, "near me")
    [reply] = wait_for(lambda: replies_to(realm, realm.bob), timeout=60, what="Bob's answer")
    assert "#**alumni>intros**" in reply and "#**welcome" not in reply
    server.send_dm(realm.alice, realm.bot, "near me")
    [reply] = wait_for(lambda: [r for r in replies_to(realm, realm.alice) if "alumni" not in r],
                       timeout=60, what="Alice's answer")
    assert "#**welcome>introductions**" in reply


def test_a_dm_in_a_queue_gap_before_any_message_is_answered(realm, start_bot, wait_for):
    """The queue expires before the bot saw any message; a DM sent in the gap is still answered."""
    bot = start_bot()
    assert bot.ready.is_set()
    realm.server.expire_queues(then=lambda: realm.server.send_dm(realm.alice, realm.bot, "help"))
    [reply] = wait_for(lambda: replies_to(realm, realm.alice), timeout=20, what="the reply")
    assert "near me" in reply


def layout_of(bot) -> tuple[int, str]:
    latest = bot.store.latest_snapshot("main")
    return len(latest), latest.params["resolved"]["layout_update"]


def test_a_newcomer_is_placed_and_the_nightly_build_fits_afresh(realm, start_bot, wait_for):
    """In the bot's build worker, one newcomer is placed on the last fit (UMAP transform);
    the nightly scheduled build then fits the whole map afresh."""
    server = realm.server
    interests = ["sailing boats and knots at sea", "sourdough bread and pastry baking",
                 "rust compilers and llvm passes", "jazz piano and drums"]
    # no two texts the same: UMAP once gave NaN to a newcomer embedded like six others
    # (the build then fits afresh, see test_incremental), and this test is about placing
    extras = ["maps", "tea", "chess", "birds", "cycling", "poetry", "knitting", "origami", "hiking", "film", "clay",
              "radio", "kites", "puzzles", "rowing", "cheese", "fonts", "trains", "moss", "jam", "dice", "owls",
              "glass", "caves", "lighthouses"]
    people = [server.add_user(f"Person {i:02d}") for i in range(25)]
    for i, person in enumerate(people):
        server.subscribe(person, realm.welcome)
        if i < 24:
            server.send_stream_message(person, realm.welcome, realm.topic, f"I like {interests[i % 4]} and {extras[i]}.")
    bot = start_bot()
    wait_for(lambda: bot.store.message_count("main") == 24, what="the introductions")
    bot.refresh_stale()  # builds, or joins the first map's build and builds again if needed
    assert layout_of(bot) == (24, "fit")
    server.send_stream_message(people[24], realm.welcome, realm.topic, f"I like {interests[0]} and {extras[24]}.")
    source = bot.settings.sources[0]
    wait_for(lambda: bot.store.message_count("main") == 25 and bot.refresher.is_stale(source), what="the newcomer")
    bot.refresh_stale()
    assert layout_of(bot) == (25, "transform")
    bot.scheduler.run("refresh")
    assert layout_of(bot) == (25, "fit")


def test_a_burst_of_intros_does_not_hold_commands_behind_its_reactions(realm, make_settings, sleeps, tmp_path, wait_for):
    """Each new intro gets a reaction, and reactions are paced to the request budget: 45
    intros at 30 calls a minute. They are sent off the event thread, leaving calls to
    spare, so the intros are stored and a command sent after them is answered at once,
    not after a minute of pacing; the reactions follow."""
    from bot.runner import Bot
    from bot.zulip_io import RetryPolicy, ZulipIO

    server = realm.server
    policy = RetryPolicy(per_minute=30, sleep=sleeps)
    rc = str(server.zuliprc(tmp_path, realm.bot))
    bot = Bot(make_settings(), client_factory=lambda: ZulipIO(rc, policy), background_schedules=False).start()
    try:
        assert bot.ready.wait(30)
        intros = [server.send_stream_message(realm.alice, realm.welcome, realm.topic, f"I like knots, {i}.")
                  for i in range(45)]
        server.send_dm(realm.bob, realm.bot, "status")
        wait_for(lambda: bot.store.message_count("main") == len(intros), 20, "the intros stored")
        wait_for(lambda: [r for r in replies_to(realm, realm.bob) if "Introductions stored" in r], 20, "the reply")
        reacted = sum(bool(server.realm.messages[i].reactions) for i in intros)
        assert reacted < len(intros)  # the rest wait for the budget, off the event thread
        wait_for(lambda: server.realm.messages[intros[0]].reactions, 20, "the first reaction")
    finally:
        bot.stop()
