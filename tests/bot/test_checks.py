"""`batchviz check` against the test server: each problem made to happen, then found,
all of them in one run, with the exit code 0 / 1 / 2 for ok / problems / warnings."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot import checks
from bot.checks import OK, PROBLEM, WARNING
from bot.cli import main

INTRO = "introductions"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def rc(realm, tmp_path):
    """A zuliprc for the bot (or `user`) with these [batchviz] keys over good defaults:
    hashing model, a data folder in tmp, public_url at the map port (which the check's
    stand-in answers)."""

    def make(user=None, **keys) -> str:
        port = free_port()
        values = {"source_stream": realm.welcome, "source_topic": INTRO, "post_stream": "general",
                  "embedding_model": "hashing", "data_dir": str(tmp_path / "data"), "web_port": str(port),
                  "public_url": f"http://127.0.0.1:{port}"} | keys
        extra = "\n[batchviz]\n" + "".join(f"{k} = {v}\n" for k, v in values.items() if v is not None)
        return str(realm.server.zuliprc(tmp_path, user or realm.bot, extra=extra))

    realm.server.send_stream_message(realm.alice, realm.welcome, INTRO, "I like rock climbing and Rust.")
    return make


def rewrite(path: str, old: str, new: str) -> None:
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text.replace(old, new))


def findings(path: str) -> list[checks.Finding]:
    return checks.check_all(path)[1]


def levels(found: list[checks.Finding], area: str) -> list[str]:
    return [f.level for f in found if f.area == area]


def only(found, level: str, area: str) -> checks.Finding:
    matching = [f for f in found if f.level == level and f.area == area]
    assert len(matching) == 1, "\n".join(f.line() for f in found)
    return matching[0]


def test_all_well_exits_0(rc, capsys):
    """A good configuration: every area ok, exit 0, and the feature level shown."""
    assert main(["check", "--config", rc()]) == 0
    out = capsys.readouterr().out
    assert "all checks passed" in out and "feature level 218" in out
    for area in ("settings", "server", "account", "source main", "post stream", "data folder", "public_url", "model"):
        assert f"ok       {area}:" in out


def test_bad_settings_are_all_reported(rc, capsys):
    """Two bad keys: both named in one report, exit 1."""
    assert main(["check", "--config", rc(web_port="eighty", timezone="Mars/Olympus")]) == 1
    out = capsys.readouterr().out
    assert "web_port" in out and "timezone" in out


def test_unreachable_server(rc, realm):
    """A server that does not answer is a problem, found in seconds (two quick tries)."""
    path = rc()
    rewrite(path, realm.server.base_url, f"http://127.0.0.1:{free_port()}")
    assert only(findings(path), PROBLEM, "server")


def test_malformed_site(rc, realm):
    """A site that is no URL: a problem line, not a traceback."""
    path = rc()
    rewrite(path, realm.server.base_url, "http://[bad")
    assert "cannot be used: ValueError" in only(findings(path), PROBLEM, "server").message


def test_wrong_key(rc, realm):
    path = rc()
    rewrite(path, realm.bot.api_key, "x" * 32)
    assert "cannot be used" in only(findings(path), PROBLEM, "server").message


def test_wrong_stream_suggests_the_right_one(rc):
    found = findings(rc(source_stream="welcom"))
    message = only(found, PROBLEM, "source main").message
    assert "no stream #welcom" in message and "did you mean #welcome" in message


def test_bot_not_subscribed(rc, realm):
    """A public stream the bot reads but is not subscribed to: it would hear nothing new."""
    realm.server.add_stream("hello", subscribers=[realm.alice])
    realm.server.send_stream_message(realm.alice, "hello", INTRO, "Hi, I garden.")
    found = findings(rc(source_stream="hello", post_stream="hello"))
    assert "not subscribed to #hello" in only(found, PROBLEM, "source main").message


def test_hidden_history(rc, realm):
    """A private stream with protected history: a problem even though the bot is in it."""
    stream = realm.server.add_stream("secret", invite_only=True, subscribers=[realm.bot, realm.alice])
    stream.history_public_to_subscribers = False
    realm.server.send_stream_message(realm.alice, "secret", INTRO, "Hi, I knit.")
    found = findings(rc(source_stream="secret", post_stream="secret"))
    assert "hides its history" in only(found, PROBLEM, "source main").message


def test_empty_topic_is_a_warning(rc):
    """No message in the topic yet: a warning (exit 2), maybe a typo in the topic."""
    path = rc(source_topic="introductoins")
    found = findings(path)
    assert "no messages yet" in only(found, WARNING, "source main").message
    assert checks.exit_code(found) == 2


def test_post_stream_that_leaks_a_private_source(rc, realm):
    """The weekly map of a private stream may not go to a public one."""
    realm.server.add_stream("private-intros", invite_only=True, subscribers=[realm.bot, realm.alice])
    realm.server.send_stream_message(realm.alice, "private-intros", INTRO, "Hi, I sail.")
    found = findings(rc(source_stream="private-intros", post_stream="general"))
    assert "can be read by people who cannot read" in only(found, PROBLEM, "post stream").message


def test_missing_post_stream(rc):
    assert "no stream #nowhere" in only(findings(rc(post_stream="nowhere")), PROBLEM, "post stream").message


def test_person_account_is_a_warning(rc, realm):
    found = findings(rc(user=realm.alice))
    assert "not a bot" in only(found, WARNING, "account").message


def test_incoming_webhook_bot_cannot_read(rc, realm):
    """An incoming-webhook bot's zuliprc: it can post but never read messages."""
    realm.bot.bot_type = 2
    assert "incoming-webhook bot" in only(findings(rc()), PROBLEM, "account").message


def test_data_folder_not_writable(rc, tmp_path):
    """data_dir under a file: cannot be created."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert "cannot be written" in only(findings(rc(data_dir=str(blocker / "data"))), PROBLEM, "data folder").message


def test_database_from_a_newer_batchviz(rc, tmp_path):
    (tmp_path / "data").mkdir()
    with sqlite3.connect(tmp_path / "data" / "batchviz.sqlite3") as conn:
        conn.execute("PRAGMA user_version = 999")
    assert "newer than this batchviz" in only(findings(rc()), PROBLEM, "database").message


def test_low_disk_levels():
    """Under 100 MiB free is a problem, under 1 GiB a warning."""
    assert checks._disk("d", 50 * 1024**2).level == PROBLEM
    assert checks._disk("d", 500 * 1024**2).level == WARNING
    assert checks._disk("d", 5 * 1024**3).level == OK


def test_public_url_unreachable(rc):
    """public_url on a port nobody listens on (the stand-in listens on web_port)."""
    found = findings(rc(public_url=f"http://127.0.0.1:{free_port()}"))
    assert "cannot be reached" in only(found, PROBLEM, "public_url").message


def test_public_url_answered_by_something_else(rc, realm):
    """public_url leads to a server that is not batchviz (here: the Zulip test server)."""
    found = findings(rc(public_url=realm.server.base_url))
    assert "not from batchviz" in only(found, PROBLEM, "public_url").message


def test_run_warns_when_public_url_does_not_lead_to_the_running_bot(rc, caplog):
    """At `run`, once the map server is up: a public_url that leads elsewhere is logged."""
    from bot.checks_web import probe_running
    from bot.settings import load_settings

    probe_running(load_settings(rc(public_url=f"http://127.0.0.1:{free_port()}")))
    assert "check: public_url:" in caplog.text and "cannot be reached" in caplog.text


class OtherBatchviz(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = json.dumps({"service": "batchviz", "instance": "another-process"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_public_url_leading_to_another_batchviz(rc):
    """public_url answered by a batchviz, but not the one on this web_port (an old process,
    another machine): a problem."""
    with ThreadingHTTPServer(("127.0.0.1", 0), OtherBatchviz) as other:
        threading.Thread(target=other.serve_forever, args=(0.05,), daemon=True).start()
        try:
            found = findings(rc(public_url=f"http://127.0.0.1:{other.server_address[1]}"))
        finally:
            other.shutdown()
    assert "reaches another batchviz" in only(found, PROBLEM, "public_url").message


def test_public_url_unset_on_loopback_is_a_warning(rc):
    found = findings(rc(public_url=None))
    assert "open on this machine alone" in only(found, WARNING, "public_url").message


def test_model_that_cannot_load(rc, tmp_path):
    found = findings(rc(embedding_model=str(tmp_path / "no-such-model")))
    assert "cannot be loaded" in only(found, PROBLEM, "model").message


def test_everything_at_once(rc, tmp_path, capsys):
    """Several problems in one configuration are all reported in one run."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    path = rc(source_stream="welcom", post_stream="nowhere", data_dir=str(blocker / "d"),
              public_url=f"http://127.0.0.1:{free_port()}")
    assert main(["check", "--config", path]) == 1
    out = capsys.readouterr().out
    for area in ("source main", "post stream", "data folder", "public_url"):
        assert f"problem  {area}:" in out
    assert "4 problem(s)" in out


def test_run_refuses_to_start_and_names_every_problem(rc, capsys):
    """`batchviz run` does the same checks at start: it exits 2 listing each problem."""
    assert main(["run", "--config", rc(source_stream="welcom", post_stream="nowhere")]) == 2
    err = capsys.readouterr().err
    assert "no stream #welcom" in err and "no stream #nowhere" in err
