"""Map builds run in the bot's worker process, never in the bot's own: UMAP's and
HDBSCAN's compiled loops hold the interpreter lock for seconds, which would hold every
chat answer behind them. The real bot process is checked through /proc: which shared
libraries each process has loaded, and which processes are alive."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from bot.refresh import BUILDING_KEY, DIRTY_KEY
from tests.reliability.conftest import read_store, replies_to

pytestmark = pytest.mark.slow

WORKER_STARTED = r"Build worker (\d+) started"
# loaded only by the pipeline's libraries: numba (UMAP's compiler) and HDBSCAN
PIPELINE_LIBRARIES = re.compile(r"/numba/\S*\.so|/hdbscan/\S*\.so")


def pipeline_libraries(pid: int) -> set[str]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {match.group(0) for match in PIPELINE_LIBRARIES.finditer(maps)}


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent has not reaped it yet


def worker_pids(process) -> list[int]:
    return [int(pid) for pid in re.findall(WORKER_STARTED, process.current_log())]


def first_map(realm, process, wait_for, people: int = 8) -> None:
    for person in realm.people[:people]:
        realm.server.send_stream_message(person, realm.welcome, realm.topic,
                                         f"I'm {person.full_name}; I like rust, jazz and compilers.")
    wait_for(lambda: read_store(process.config.parent / "data", lambda s: settled(s, people)), 120,
             "the first map of everyone, and no build under way")


def settled(store, people: int) -> bool:
    """A map of all `people` is saved and no build is running or due."""
    info = store.snapshot_info("main")
    busy = any(store.get_state(key.format(source="main")) for key in (BUILDING_KEY, DIRTY_KEY))
    return info is not None and info[2] == people and not busy


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_builds_run_in_a_worker_and_the_bot_stops_it(realm, bot_process, wait_for):
    process = bot_process().start()
    first_map(realm, process, wait_for)
    [worker] = worker_pids(process)
    assert worker != process.proc.pid
    assert pipeline_libraries(worker), "the worker built the map with UMAP and HDBSCAN"
    assert not pipeline_libraries(process.proc.pid), "the bot's own process must not load the pipeline"
    assert process.stop() == 0
    wait_for(lambda: not alive(worker), 10, "the worker to stop with the bot")


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_the_worker_exits_when_the_bot_is_killed(realm, bot_process, wait_for):
    process = bot_process().start()
    first_map(realm, process, wait_for)
    [worker] = worker_pids(process)
    process.kill()
    wait_for(lambda: not alive(worker), 10, "the orphaned worker to exit")


def test_a_dead_worker_is_replaced_at_the_next_build(realm, bot_process, wait_for):
    process = bot_process().start()
    first_map(realm, process, wait_for)
    [worker] = worker_pids(process)
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: not alive(worker), 10, "the worker to die")
    asker = realm.people[0]
    realm.server.send_dm(asker, realm.bot, "refresh")
    wait_for(lambda: any(r.startswith("Refreshed: ") for r in replies_to(realm.server, realm.bot, asker)), 120,
             "the refresh's result")
    assert len(worker_pids(process)) == 2
