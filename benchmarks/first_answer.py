"""`batchviz run` start to first answer, the map already built (issue 13: at most 5 s).

    python benchmarks/first_answer.py [--people 100] [--repeats 3] [--model hashing]
                                      [--importtime] [--keep DIR]

On the Zulip test server (``tests/zulip_server``, the reliability suite's realm and zuliprc),
N people post a pyvideo talk description each as their introduction; the bot, a real
``python -m bot.cli run --config RC`` process, starts once, builds the map and is stopped
(SIGTERM). Then, each repetition, for ``status`` and for ``near me`` in turn: the bot is
started again and right after Popen a person sends it the command by DM; the time is
from Popen until the bot's reply is stored on the server. The DM arrives before the bot
has registered its event queue, so it is answered by the start's catch-up, after the full
read of the introductions, as someone asking while the bot (re)starts is.

The per-run columns come from the bot's log, in seconds from Popen: ``connected``
(imports done and ``get_profile`` answered), ``registered`` (event queue), ``resynced``
(every introduction read again), ``command`` (the command dispatched); ``reply`` is the
measured total. ``--importtime`` adds one untimed start under ``python -X importtime``
and lists the imports that take the most.

The model is ``hashing`` by default: the bot's process never loads a model (builds run
in its worker process), and no build runs on these starts.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(REPO))
if str(REPO / "tests") not in sys.path:  # the test server and the bot process, imported as pytest does
    sys.path.insert(0, str(REPO / "tests"))

from benchmarks import scale  # noqa: E402
from benchmarks.common import TARGETS, BenchmarkError, format_table, load_talks, verdict  # noqa: E402

TARGET_S = TARGETS["first_answer_100"]
COMMANDS = ("status", "near me")
BUILD_TIMEOUT, ANSWER_TIMEOUT = 600.0, 120.0  # seconds; generous: the machine may be loaded
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ", re.MULTILINE)
MARKS = {"connected": "Connected to ", "registered": "Registered event queue ",
         "resynced": "Resynced source ", "command": "Command "}
BUILT = re.compile(r"source \S+: snapshot \d+ with \d+ people")
RUN_COLUMNS = ["run", "command", *[f"{m} s" for m in MARKS], "reply s"]


def measure(people: int = 100, repeats: int = 3, model: str = "hashing", folder: Path | None = None,
            data=None, importtime: bool = False) -> dict:
    """{"runs": [{command, connected, registered, resynced, command_at, reply, text}, ...],
    "imports": [(module, cumulative s), ...]} (imports only with ``importtime``)."""
    from zulip_server import ZulipTestServer, load_spec
    from zulip_server.fixtures import TEST_POLL_TIMEOUT

    with tempfile.TemporaryDirectory(prefix="batchviz-first-answer-") as tmp:
        folder = Path(folder or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        server = ZulipTestServer(load_spec(), poll_timeout=TEST_POLL_TIMEOUT).start()
        try:
            return _measure(server, people, repeats, model, folder, data, importtime)
        finally:
            server.stop()


def _measure(server, people: int, repeats: int, model: str, folder: Path, data, importtime: bool) -> dict:
    from reliability.conftest import make_realm, write_bot_config

    realm = make_realm(server, people)
    for person, text in zip(realm.people, introductions(people, data)):
        server.send_stream_message(person, realm.welcome, realm.topic, text)
    config = write_bot_config(realm, folder, model="" if model == "bundled" else model)
    log_path = folder / "bot.log"
    build_map(config, log_path)
    askers = itertools.cycle(realm.people)  # a new asker each start, while there are people
    runs = [timed_start(realm, config, log_path, next(askers), command)
            for _ in range(repeats) for command in COMMANDS]
    imports = import_profile(realm, config, log_path, next(askers)) if importtime else []
    return {"runs": runs, "imports": imports}


def introductions(people: int, data=None) -> list[str]:
    """``people`` pyvideo talk descriptions (``scale.people``), or with ``data`` "demo" the
    bundled demo's introductions (81 of them)."""
    if data != "demo":
        return list(scale.people(load_talks(data), people, seed=people)["text"])
    from pipeline.demo import load_demo

    texts = [doc.raw for doc in load_demo()]
    if people > len(texts):
        raise BenchmarkError(f"the demo has {len(texts)} introductions, not {people}")
    return texts[:people]


def build_map(config: Path, log_path: Path) -> None:
    """Start the bot on the posted introductions, wait for its first map, stop it in order."""
    from bot_process import BotProcess
    from zulip_server import wait_until

    bot = BotProcess(config, log_path).start()
    try:
        wait_until(lambda: BUILT.search(bot.current_log()) or bot.proc.poll() is not None, BUILD_TIMEOUT)
        if not BUILT.search(bot.current_log()):
            raise BenchmarkError(f"the bot built no map within {BUILD_TIMEOUT:.0f} s; see {log_path}")
    finally:
        stopped(bot)


def timed_start(realm, config: Path, log_path: Path, person, command: str) -> dict:
    """Start the bot, DM it ``command`` at once; seconds from Popen to its reply on the server."""
    from bot_process import BotProcess
    from reliability.conftest import replies_to
    from zulip_server import wait_until

    server, before = realm.server, len(replies_to(realm.server, realm.bot, person))
    bot = BotProcess(config, log_path)
    wall, began = time.time(), time.perf_counter()
    bot.start()
    server.send_dm(person, realm.bot, command)
    try:
        answered = wait_until(lambda: len(replies_to(server, realm.bot, person)) > before
                              or bot.proc.poll() is not None, ANSWER_TIMEOUT, interval=0.02)
        took = time.perf_counter() - began
        replies = replies_to(server, realm.bot, person)
        if not answered or len(replies) <= before:
            raise BenchmarkError(f"no reply to {command!r} within {ANSWER_TIMEOUT:.0f} s; see {log_path}")
        marks = log_marks(bot.current_log(), wall)
    finally:
        stopped(bot)
    return {"command": command, **marks, "reply": took, "text": replies[before]}


def stopped(bot) -> None:
    """SIGTERM and the ordered shutdown; a bot that fails to stop in order is an error."""
    code = bot.stop()
    if code != 0:
        raise BenchmarkError(f"the bot exited with {code} on SIGTERM; see {bot.log_path}")


def log_marks(log: str, wall_start: float) -> dict:
    """Seconds from ``wall_start`` (time.time at Popen) to each MARKS line's first log stamp."""
    marks = {}
    for name, text in MARKS.items():
        line = next((line for line in log.splitlines() if text in line), "")
        stamp = LOG_TIME.match(line)
        at = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() if stamp else None
        marks["command_at" if name == "command" else name] = None if at is None else at - wall_start
    return marks


def import_profile(realm, config: Path, log_path: Path, person, top: int = 12) -> list[tuple[str, float]]:
    """One more (untimed) start under ``-X importtime``: its top-level imports, slowest first."""
    os.environ["PYTHONPROFILEIMPORTTIME"] = "1"  # BotProcess passes our environment on
    try:
        start = timed_start(realm, config, log_path, person, "status")
    finally:
        del os.environ["PYTHONPROFILEIMPORTTIME"]
    log = log_path.read_text(encoding="utf-8", errors="replace").rsplit("==== start", 1)[-1]
    found = re.findall(r"^import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", log, re.MULTILINE)  # top level: no indent
    slowest = sorted(((name.strip(), int(us) / 1e6) for us, name in found), key=lambda item: -item[1])
    return [("(start to reply, under importtime)", start["reply"])] + slowest[:top]


def runs_table(runs: list[dict]) -> str:
    lines = [[i + 1, r["command"], r["connected"], r["registered"], r["resynced"], r["command_at"], r["reply"]]
             for i, r in enumerate(runs)]
    return format_table(RUN_COLUMNS, lines)


def summary(runs: list[dict]) -> list[list]:
    """[measure, runs, median s, each run's s, target, PASS/MISS] per command and overall."""
    groups = [(f"first answer, {c!r}", [r["reply"] for r in runs if r["command"] == c]) for c in COMMANDS]
    groups.append(("first answer, any command", [r["reply"] for r in runs]))
    return [[name, len(times), statistics.median(times), " ".join(f"{t:.2f}" for t in times), TARGET_S,
             verdict(statistics.median(times), TARGET_S)] for name, times in groups if times]


def report(measured: dict, people: int, model: str) -> str:
    parts = [f"`batchviz run` start to first answer, map built: {people} people, model {model}",
             runs_table(measured["runs"]),
             format_table(["measure", "runs", "median s", "each run s", "target s", "result"], summary(measured["runs"]))]
    firsts = {r["command"]: r["text"] for r in reversed(measured["runs"])}
    parts.append("\n".join(f"reply to {c!r}: {text.splitlines()[0][:90]}" for c, text in firsts.items()))
    if measured["imports"]:
        parts.append(format_table(["slowest top-level imports (-X importtime)", "cumulative s"], measured["imports"]))
    return "\n\n".join(parts)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100, help="introductions posted before the map is built")
    parser.add_argument("--repeats", type=int, default=3, help="starts per command")
    parser.add_argument("--model", default="hashing", help="the bot's embedding_model ('bundled': the bundled one)")
    parser.add_argument("--data", default=None, help="the pyvideo parquet file, or 'demo': the bundled demo's introductions")
    parser.add_argument("--importtime", action="store_true", help="one more start under python -X importtime")
    parser.add_argument("--keep", default=None, help="keep the bot's log, zuliprc and data dir in this folder")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.people < 1 or args.repeats < 1:
            raise BenchmarkError("--people and --repeats want positive numbers")
        measured = measure(args.people, args.repeats, args.model, args.keep, args.data, args.importtime)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report(measured, args.people, args.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
