"""Security of the running bot: map links cannot be forged or outlive their expiry, no path
leads out of the maps, the API key shows up nowhere, only readers of the source stream get
answers, and opting out deletes a person's texts and embeddings from the database file."""

from __future__ import annotations

import html
import http.client
import logging
import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.dispatch import NOT_ALLOWED, UNNAMED_SOURCE
from pipeline.documents import text_hash
from tests.reliability.conftest import ROOT, read_store, replies_to

pytestmark = pytest.mark.slow

LINK_FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SECRET_TEXT = "my secret hobby is xylophone-quokka-zeppelin building"
TRAVERSALS = [
    "/map/../map-link-secret", "/map/main/../../batchviz.sqlite3", "/map/%2e%2e/%2e%2e/etc/passwd",
    "/map/..%2f..%2fmap-link-secret/1", "/map/main/1/../../../map-link-secret", "/maps/main/1.html",
    "/batchviz.sqlite3", "/map-link-secret", "//etc/passwd", "/map/main%00/1", "/map/%2e%2e%2f%2e%2e/1",
    "/map/..\\..\\map-link-secret/1",
]


def get(url: str) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
    response = conn.getresponse()
    return response.status, response.read()


@pytest.fixture
def mapped(realm, bot_thread, wait_for):
    """A running bot (map server on) with a map of 10 people; (bot, snapshot id)."""
    bot = bot_thread()
    for person in realm.people[:10]:
        realm.server.send_stream_message(person, realm.welcome, realm.topic, f"I'm {person.full_name}, I like chess.")
    info = wait_for(lambda: read_store(bot.settings.data_dir, lambda s: s.snapshot_info("main")), 60, "a map")
    wait_for(lambda: bot._lookup("main", info[0]).is_file(), 30, "the map page")
    return bot, info[0]


def test_minted_link_serves_the_map(mapped):
    """The link the bot hands out opens its map (so the refusals below mean something)."""
    bot, snapshot = mapped
    status, body = get(bot.links.mint_url("main", snapshot))
    assert status == 200 and b"plotly" in body.lower()


@LINK_FUZZ
@given(sig=st.text(alphabet="0123456789abcdef", min_size=0, max_size=70), exp_shift=st.integers(-10**6, 10**9),
       snapshot_shift=st.integers(0, 5),
       source=st.sampled_from(["main", "Main", "main%20", "other", "..", "%2e", "main%2F..%2F.."]))
def test_tampered_links_are_refused(mapped, sig, exp_shift, snapshot_shift, source, figures):
    """Any change to signature, expiry, snapshot or source gets a refusal, never the map."""
    figures["cases_fuzzed"] += 1
    bot, snapshot = mapped
    parts = urlsplit(bot.links.mint_url("main", snapshot))
    real = dict(p.split("=", 1) for p in parts.query.split("&"))
    exp = int(real["exp"]) + exp_shift
    changed = (sig != real["sig"], exp_shift != 0, snapshot_shift != 0, source != "main")
    url = f"http://{parts.netloc}/map/{source}/{snapshot + snapshot_shift}?exp={exp}&sig={sig or real['sig']}"
    status, body = get(url)
    if sig == "" and not any(changed[1:]):
        assert status == 200  # untouched
    else:
        assert status in (403, 404, 410) and b"plotly" not in body.lower()


def test_expired_link_is_refused(mapped):
    """A link past its expiry answers 410 Gone with a hint, not the map."""
    bot, snapshot = mapped
    bot.links.ttl_seconds = -1
    status, body = get(bot.links.mint_url("main", snapshot))
    assert status == 410 and b"expired" in body


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_reaches_no_file(mapped, path):
    """Paths aiming at the secret, the database or other files are refused."""
    bot, _ = mapped
    status, body = get(bot.server.base_url + path)
    assert status in (403, 404) and b"SQLite" not in body and b"plotly" not in body.lower()
    secret = (bot.settings.data_dir / "map-link-secret").read_bytes()
    assert secret not in body


def test_api_key_appears_nowhere(mapped, realm, caplog, wait_for):
    """The API key is in no log line (errors included), chat message or map page."""
    bot, _ = mapped
    key = realm.bot.api_key
    caplog.set_level(logging.DEBUG)
    realm.server.fail_next(3, status=502, path_prefix="/messages")  # errors get logged
    for text in ("status", "map", "refresh", "show cluster 99"):
        realm.server.send_dm(realm.people[0], realm.bot, text)
    wait_for(lambda: len(replies_to(realm.server, realm.bot, realm.people[0])) == 5, 30,
             "5 answers (refresh: at once, then its result)")
    with realm.server.realm.lock:  # the bot may still be sending
        chat = [m.content for m in realm.server.realm.messages.values()]
    pages = [p.read_bytes() for p in bot.settings.data_dir.rglob("*") if p.is_file() and p.suffix in (".html", ".png")]
    assert pages
    assert key not in caplog.text and key not in repr(bot.settings)
    assert not any(key in text for text in chat) and not any(key.encode() in page for page in pages)


def test_wrong_api_key_stops_the_bot_with_a_clear_message(realm, bot_config, tmp_path):
    """`batchviz run` with a rejected key exits with a one-line error that does not echo the key."""
    key = realm.bot.api_key[::-1]
    bad = tmp_path / "bad-zuliprc"
    bad.write_text(bot_config().read_text().replace(realm.bot.api_key, key))
    out = subprocess.run([sys.executable, "-m", "bot.cli", "run", "--config", str(bad)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and key not in out.stdout + out.stderr
    assert "Traceback" not in out.stderr and "batchviz: error:" in out.stderr


def test_only_readers_of_the_source_stream_get_answers(realm, bot_thread, wait_for, figures):
    """In a private source stream, a non-subscriber is refused and learns nothing."""
    stream = realm.server.realm.stream(realm.welcome)
    stream.invite_only = True
    stream.subscribers -= {p.user_id for p in realm.people[10:]}
    bot_thread(post_stream=realm.welcome)  # a public post_stream would leak the private source
    for person in realm.people[:5]:
        realm.server.send_stream_message(person, realm.welcome, realm.topic, f"I'm {person.full_name}, I like go.")
    outsider, insider = realm.people[20], realm.people[1]
    for person in (outsider, insider):
        realm.server.send_dm(person, realm.bot, "near @**Person 00**")
    figures["commands_sent"] += 2
    refused = wait_for(lambda: replies_to(realm.server, realm.bot, outsider), 30, "the refusal")
    answered = wait_for(lambda: replies_to(realm.server, realm.bot, insider), 30, "the answer")
    assert refused == [NOT_ALLOWED.format(where=UNNAMED_SOURCE)]  # a private source is not named (21.10)
    assert "Person" not in refused[0] and answered[0] != refused[0]
    figures["commands_answered"] += 2


def test_opt_out_deletes_texts_and_embeddings_from_the_file(mapped, realm, wait_for):
    """After `forget me`, the person's text is in no row, no cached vector, and no file byte."""
    bot, _ = mapped
    person = realm.people[3]
    realm.server.send_stream_message(person, realm.welcome, realm.topic, SECRET_TEXT)
    data = bot.settings.data_dir
    wait_for(lambda: read_store(data, lambda s: any(SECRET_TEXT in d.text for d in s.documents("main"))), 30, "stored")
    wait_for(lambda: read_store(data, lambda s: any(SECRET_TEXT in d.text for d in s.latest_snapshot("main").people)),
             60, "mapped")

    def mine(store):
        return [d for d in store.documents("main") if d.person_id == str(person.user_id)]

    hashes = read_store(data, lambda s: [text_hash(d.text) for d in mine(s)])
    cached = lambda: read_store(data, lambda s: s.get_embeddings(bot.settings.embedder().model_id, hashes))  # noqa: E731
    assert cached()  # embedded before
    realm.server.send_dm(person, realm.bot, "forget me")
    wait_for(lambda: replies_to(realm.server, realm.bot, person), 30, "the opt-out reply")
    assert cached() == {}
    assert not read_store(data, mine)
    source = bot.settings.sources[0]  # the rebuild the opt-out asked for writes map files: let it finish
    wait_for(lambda: not bot.refresher.is_stale(source) and not bot.refresher.is_running(source), 60, "the rebuild")
    files = [p for p in data.rglob("*") if p.is_file()]
    assert not [p.name for p in files if squeezed(SECRET_TEXT) in decoded(p.read_bytes())]


def decoded(content: bytes) -> str:
    """A file's text as the map shows it, for searching: JSON and HTML escapes decoded,
    the `<br>` that wrap hover text (every 60 columns, also after hyphens) and all
    whitespace removed. The raw bytes never hold a 53-character text whole once the page
    has wrapped it; compare with ``squeezed(text)``."""
    text = content.decode("utf-8", "replace")
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), text)
    text = html.unescape(text).replace("\\/", "/")
    return squeezed(re.sub(r"<br\s*/?>|\\n", "", text, flags=re.IGNORECASE))


def squeezed(text: str) -> str:
    return "".join(text.split())
