"""Hostile introductions through the whole path: Zulip → ingestion → storage → pipeline →
map page and answers. Property-based over who writes what (0–4 people, odd scripts, HTML,
Markdown, duplicates), and the rendered page checked in headless Chromium."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selenium.webdriver.support.ui import WebDriverWait

from bot.answers import Answerer, Asker
from bot.commands import parse
from bot.directory import Directory
from bot.ingest import Ingestor
from bot.service import rebuild
from bot.settings import Source
from bot.zulip_io import ZulipIO
from pipeline.embed import HashingEmbedder
from pipeline.params import PipelineParams
from storage import Store

from tests.reliability.conftest import FRAGMENTS, assert_clear_reply

MAP_FUZZ = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
QUESTIONS = ["near me", "near me 20", "clusters", "show cluster 1", "show cluster -1", "map", "status"]
_ids = itertools.count()

HOSTILE = [
    ("<script>window.pwned=1</script>", "I like <script>window.pwned=1</script> and **bold** things"),
    ("<img src=x onerror=window.pwned=1>", "<img src=x onerror=window.pwned=1> climbing, rust and coffee"),
    ('"><svg onload="window.pwned=1">', "[click](javascript:window.pwned=1) `code` > quote"),
    ("\u202eevil\u202c Name", "مرحبا! أحب الشعر والقهوة \u200f right to left"),
    ("Zero\u200bWidth\u200dName", "zero\u200bwidth\u200cjoiners\u2060everywhere and \ufeff BOMs"),
    ("🎉🎉", ":tada: 🎉🎉🎉 🐍"),
    ("名前 ᚠᛇᚻ Ωμέγα", "你好，我喜欢音乐。Γεια σας, μου αρέσει η μουσική. ᚠᛇᚻ runes"),
    ("Same Text One", "I love chess, go and long walks."),
    ("Same Text Two", "I love chess, go and long walks."),
    ("Long Writer", "word " * 10_000),
]

names = st.one_of(st.sampled_from([n for n, _ in HOSTILE]), st.text(min_size=1, max_size=40))
texts = st.one_of(
    st.sampled_from([t for _, t in HOSTILE]),
    st.text(max_size=200),
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=20).map(" ".join),
).filter(lambda t: t.strip())  # Zulip refuses empty messages
posts = st.lists(st.tuples(st.integers(0, 3), texts), max_size=6)  # (which person, text)


@pytest.fixture
def hostile_realm(zulip_server, tmp_path):
    """A bot and a welcome stream, a connected ZulipIO and the bot's Directory."""
    bot = zulip_server.add_user("Map Bot", email="map-bot@zulip.test", is_bot=True)
    zulip_server.add_stream("welcome", subscribers=[bot])
    io = ZulipIO(str(zulip_server.zuliprc(tmp_path, bot)))
    return zulip_server, bot, io, Directory(io)


def post_all(server, people_names: list[str], posts: list[tuple[int, str]], topic: str) -> dict[int, int]:
    """Create the people and send their posts; {message id: sender id}."""
    users = [server.add_user(name or "?", email=f"p{next(_ids)}@zulip.test") for name in people_names]
    for user in users:
        server.subscribe(user, "welcome")
    return {server.send_stream_message(users[who], "welcome", topic, text): users[who].user_id
            for who, text in posts if who < len(users)}


def ingest_and_build(realm, source: Source, folder: Path):
    """Backfill the source into a fresh store, build and render its map; (store, built)."""
    server, bot, io, directory = realm
    store = Store(folder / "db.sqlite3")
    ingestor = Ingestor(store, [source], io, directory, bot.user_id)
    ingestor.backfill(source)
    assert not ingestor.backfill(source), "a second backfill must change nothing"
    return store, rebuild(store, source.name, PipelineParams(), HashingEmbedder(), outputs=folder)


@MAP_FUZZ
@given(people_names=st.lists(names, max_size=4), posts=posts)
def test_any_introductions_build_a_map_and_get_answers(hostile_realm, people_names, posts, figures):
    """0–4 people posting anything: each message stored once, a map built, every answer clear."""
    figures["cases_fuzzed"] += 1
    source = Source(f"fuzz{next(_ids)}", "welcome", topic=f"intros {next(_ids)}")
    sent = post_all(hostile_realm[0], people_names, posts, source.topic)
    with tempfile.TemporaryDirectory() as folder:
        store, built = ingest_and_build(hostile_realm, source, Path(folder))
        with store:
            assert store.message_count(source.name) == len(sent)
            assert {d.person_id for d in built.result.people} <= {str(s) for s in sent.values()}
            assert (built.html_path is not None) == (len(built.result) > 0)
            answerer = Answerer(store, source.name, links=lambda: "https://maps.example/m")
            for sender in sorted(set(sent.values()))[:2]:
                for question in QUESTIONS:
                    assert_clear_reply(answerer.answer(parse(question), Asker(str(sender), "x")))


PAGE_READY = "const gd = document.querySelector('.js-plotly-plot'); return !!(gd && gd._fullData);"
PAGE_STATE = """
const gd = document.querySelector('.js-plotly-plot');
return {pwned: typeof window.pwned, alerts: window.__alerts || 0,
        injected: document.querySelectorAll('img, iframe, object, embed, [onerror], [onload], a[href^="javascript"]').length,
        shown: gd._fullData.flatMap(t => t.text || []).join('\\n')};
"""


@pytest.mark.browser
def test_map_page_of_hostile_introductions_runs_nothing_user_written(hostile_realm, browser, tmp_path, figures):
    """HTML, script and RTL names and texts reach the map page as text and never execute."""
    people = [name for name, _ in HOSTILE]
    source = Source("hostile", "welcome", topic="hostile intros")
    sent = post_all(hostile_realm[0], people, list(enumerate(t for _, t in HOSTILE)), source.topic)
    figures["messages_sent"] += len(sent)
    store, built = ingest_and_build(hostile_realm, source, tmp_path)
    with store:
        assert store.message_count("hostile") == len(sent)
        figures["messages_stored"] += store.message_count("hostile")
    browser.get(built.html_path.as_uri())
    browser.execute_script("window.alert = () => { window.__alerts = (window.__alerts || 0) + 1; };")
    WebDriverWait(browser, 60).until(lambda b: b.execute_script(PAGE_READY))
    state = browser.execute_script(PAGE_STATE)
    assert state["pwned"] == "undefined" and state["alerts"] == 0 and state["injected"] == 0
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in state["shown"]  # there, as text
