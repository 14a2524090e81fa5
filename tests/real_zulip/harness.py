"""The real-Zulip tier: the real `batchviz run` process against a real Zulip server.

The server is the kit in `../shared/zulip-server` (Zulip 11.0-dev, feature level 387;
see its README). `make test-zulip` builds and starts it, then runs this folder; a session
that finds it already answering on localhost:9991 uses it as it is. Where the kit is
missing (a user's machine), every test here is skipped with the reason; under CI
(`CI=true`) a missing kit is a failure, never a skip.

The realm keeps what earlier runs made, so every test makes its own people and streams
with a fresh nonce in their names, and reads only what it made. Each test has its own bot
user too: the server is shared (by other runs of the tier, at a developer's desk), and a
bot process of another run would otherwise answer this test's people as well.

Every request the tier's own code sends goes through one policy (`patience.py`): a slow
or busy server is waited for, within a bound, and a retry never makes a second copy.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

import bot_process
from bot.settings import DB_FILENAME, MAIN_SOURCE
from real_zulip.patience import REQUEST_TIMEOUT, Client, answered, json_answer, patiently
from storage import Store
from zulip_server import wait_until

ROOT = Path(__file__).resolve().parents[2]
KIT = Path(os.environ.get("BATCHVIZ_ZULIP_KIT", ROOT.parent / "shared" / "zulip-server"))
SITE = "http://localhost:9991"  # the realm lives on `localhost`, not 127.0.0.1 (kit README)
TOPIC = "introductions"
WAIT = 120.0  # seconds: an upper bound for anything the bot does here, never a speed target
BUILD_TIMEOUT = 1800  # s for the kit's scripts: a first build takes about 17 min on 2 busy cores


def zulip_home() -> Path:
    if os.environ.get("ZULIP_HOME"):
        return Path(os.environ["ZULIP_HOME"])
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "batchviz-zulip-server"


def _answers() -> bool:
    """Whether a Zulip is up on SITE. A slow answer counts: a busy server is up, and
    taking it for down would start (and at the end stop) a server others are using."""
    try:
        response = requests.get(f"{SITE}/api/v1/server_settings", timeout=REQUEST_TIMEOUT)
    except requests.Timeout:
        return True  # it took the connection: something serves there, busy
    except requests.ConnectionError:
        return False
    return json_answer(response).get("result") == "success"


def _kit(script: str, *args: str, timeout: float = BUILD_TIMEOUT) -> str:
    try:
        done = subprocess.run(["bash", str(KIT / script), *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{script} {' '.join(args)} did not finish in {timeout} s:\n{exc.stdout}\n{exc.stderr}")
    if done.returncode != 0:
        pytest.fail(f"{script} {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                    f"{done.stderr[-3000:]}")
    return done.stdout


@pytest.fixture(scope="session")
def real_server():
    """The running kit server (started here if it is not up yet, and stopped again)."""
    if not KIT.is_dir():
        reason = (f"the real-Zulip tier needs the server kit at {KIT} (shared/zulip-server "
                  f"beside the checkout, or $BATCHVIZ_ZULIP_KIT); it is not there")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    started = False
    if not _answers():
        _kit("setup.sh")
        _kit("start.sh")
        started = True
    admin = Client(config_file=str(zulip_home() / "credentials" / "admin.zuliprc"))
    yield SimpleNamespace(admin=admin, feature_level=admin.feature_level)
    if started:
        _kit("stop.sh")


def limit_requests(user_id: int, rule: str) -> None:
    """Give one user Zulip's per-user rate limit `rule` ("SECONDS:COUNT"), on the running
    server (the shared server is never restarted for it, and no one else is limited)."""
    _kit("manage.sh", "shell", "-c", "from zerver.models import UserProfile; "
         f"u = UserProfile.objects.get(id={int(user_id)}); u.rate_limits = {rule!r}; "
         "u.save(update_fields=['rate_limits'])", timeout=300)  # s: Django starting on busy cores


# ---- people and streams of one test ---------------------------------------------------


def api_key(email: str) -> str:
    return checked(patiently(lambda: answered(requests.post(
        f"{SITE}/api/v1/dev_fetch_api_key", data={"username": email}, timeout=REQUEST_TIMEOUT)),
        "POST dev_fetch_api_key"))["api_key"]


def checked(result: dict) -> dict:
    assert result.get("result") == "success", result
    return result


def patient(call, *args, **kwargs) -> dict:
    """A test's own request through a `Client` (which already waits out timeouts, dropped
    connections and rate limits: `patience.py`), its answer checked."""
    return checked(call(*args, **kwargs))


class Person:
    """A realm member made for one test, with their own client."""

    def __init__(self, server, full_name: str, email: str):
        self.server, self.full_name, self.email = server, full_name, email
        created = server.admin.create_user({"email": email, "password": secrets.token_hex(8),
                                            "full_name": full_name})
        self.user_id = int(checked(created)["user_id"])
        self.client = Client(email=email, api_key=api_key(email), site=SITE)

    def post(self, stream: str, topic: str, content: str) -> int:
        return int(patient(self.client.send_message,
                           {"type": "stream", "to": stream, "topic": topic, "content": content})["id"])

    def dm_bot(self, content: str) -> int:
        return int(patient(self.client.send_message,
                           {"type": "private", "to": [self.server.bot_id], "content": content})["id"])

    def bot_replies(self, narrow: list[dict], after: int = 0, markdown: bool = False) -> list[dict]:
        """The bot's messages in a conversation this person can read, after a message id."""
        narrow = narrow + [{"operator": "sender", "operand": self.server.bot_id}]
        found = patient(self.client.get_messages, {"anchor": after, "include_anchor": False,
                                                   "num_before": 0, "num_after": 1000,
                                                   "narrow": narrow, "apply_markdown": markdown})
        return found["messages"]

    def dm_replies(self, after: int = 0, markdown: bool = False) -> list[dict]:
        return self.bot_replies([{"operator": "dm", "operand": [self.server.bot_id]}], after, markdown)


class World:
    """One test's nonce, people and streams."""

    def __init__(self, server, folder: Path):
        self.nonce = secrets.token_hex(3)
        self.server = SimpleNamespace(**vars(server), **own_bot(server.admin, self.nonce, folder))
        self.people: list[Person] = []

    def person(self, first_name: str) -> Person:
        person = Person(self.server, f"{first_name} {self.nonce}",
                        f"{first_name.lower()}-{self.nonce}@batchviz.example.com")
        self.people.append(person)
        return person

    def stream(self, name: str, members=(), private: bool = False, with_bot: bool = True) -> str:
        """A stream made by subscribing (that is how Zulip creates one)."""
        full = f"{name}-{self.nonce}"
        principals = [p.user_id for p in members] + ([self.server.bot_id] if with_bot else [])
        patient(self.server.admin.add_subscriptions, [{"name": full}], principals=principals,
                invite_only=private, history_public_to_subscribers=True)
        return full

    def make_guest(self, person: Person) -> None:
        patient(self.server.admin.call_endpoint, url=f"users/{person.user_id}", method="PATCH",
                request={"role": 600})


def own_bot(admin: Client, nonce: str, folder: Path) -> dict:
    """A generic bot owned by the admin, as the kit's shared one, for one test alone: its
    client, id, name and zuliprc."""
    name = f"Map Bot {nonce}"
    made = checked(admin.call_endpoint("bots", request={"full_name": name, "short_name": f"batchviz-{nonce}"}))
    email = checked(admin.call_endpoint(f"users/{made['user_id']}", method="GET"))["user"]["delivery_email"]
    rc = folder / "bot.zuliprc"
    rc.write_text(f"[api]\nemail={email}\nkey={made['api_key']}\nsite={SITE}\n", encoding="utf-8")
    return {"bot": Client(config_file=str(rc)), "bot_id": int(made["user_id"]), "bot_name": name, "bot_rc": rc}


@pytest.fixture
def world(real_server, tmp_path) -> World:
    return World(real_server, tmp_path)


# ---- the bot as a real process ----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BotProcess(bot_process.BotProcess):
    """The real bot against the real server, with its data folder at hand."""

    def __init__(self, config: Path, data_dir: Path, log_path: Path):
        super().__init__(config, log_path)
        self.data_dir = data_dir

    def wait_log(self, pattern: str, timeout: float = WAIT) -> str:
        found = wait_until(lambda: re.search(pattern, self.current_log()), timeout, interval=0.05)
        if found is None:
            pytest.fail(f"the bot did not log {pattern!r} within {timeout} s; its log:\n{self.current_log()[-4000:]}")
        return found.group(0)

    def queue_id(self) -> str:
        return re.findall(r"Registered event queue (\S+)", self.current_log())[-1]

    def read(self, read):
        """Read the bot's database beside it (WAL: a reader never blocks the bot)."""
        path = self.data_dir / DB_FILENAME
        if not path.exists():
            return None
        with Store(path) as store:
            return read(store)

    def documents(self) -> list:
        return self.read(lambda store: store.documents(MAIN_SOURCE)) or []

    def snapshot_id(self) -> int | None:
        info = self.read(lambda store: store.snapshot_info(MAIN_SOURCE))
        return info[0] if info else None


def at_least(found: list, n: int) -> list | None:
    """`found` once it holds n items (for waiting on replies), else None."""
    return found if len(found) >= n else None


RUNNING: list[BotProcess] = []  # the bot processes of the current test, for failure reports


@pytest.fixture
def bot_process(real_server, world, tmp_path):
    """A factory of bot processes for this test's world; all are stopped at teardown."""
    started = RUNNING
    started.clear()

    def make(welcome: str, extra: str = "") -> BotProcess:
        """A bot reading `welcome`; `extra` holds `key = value` lines that override the defaults."""
        data_dir = tmp_path / f"data-{len(started)}"
        settings = {"source_stream": welcome, "source_topic": TOPIC, "embedding_model": "hashing",
                    "debounce_minutes": "0", "refresh_cooldown_minutes": "0", "data_dir": str(data_dir),
                    "web_port": str(free_port())}
        settings.update(line.split(" = ", 1) for line in extra.splitlines() if line.strip())
        config = tmp_path / f"zuliprc-{len(started)}"
        shutil.copy(world.server.bot_rc, config)
        with open(config, "a", encoding="utf-8") as handle:
            handle.write("\n[batchviz]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
        process = BotProcess(config, data_dir, tmp_path / f"bot-{len(started)}.log")
        started.append(process)
        return process

    yield make
    for process in started:
        process.stop()
    RUNNING.clear()


def wait_for(condition, what: str, timeout: float = WAIT):
    """Poll until `condition()` is truthy; fail (with the bot's log) after `timeout` s or as
    soon as a bot process has died on its own."""
    def settled():
        for process in RUNNING:
            if process.proc is not None and process.proc.poll() not in (None, -signal.SIGKILL, 0):
                pytest.fail(f"the bot exited with {process.proc.returncode} while waiting for {what}:\n"
                            f"{process.current_log()[-4000:]}")
        return condition()

    value = wait_until(settled, timeout, interval=0.2)
    if value is None:
        logs = "\n".join(process.current_log()[-3000:] for process in RUNNING)
        pytest.fail(f"timed out after {timeout} s waiting for {what}; the bot's log:\n{logs}")
    return value
