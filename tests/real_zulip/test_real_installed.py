"""The installed wheel against the real server: `batchviz check`, then `batchviz run` up to
its first answer. `.ci/wheel` installs the wheel into a fresh venv outside the checkout
and runs this file with BATCHVIZ_INSTALLED set to that `batchviz`; without it, skipped."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from real_zulip.harness import TOPIC, BotProcess, free_port, wait_for

INSTALLED = os.environ.get("BATCHVIZ_INSTALLED", "")
pytestmark = pytest.mark.skipif(not INSTALLED, reason="run by .ci/wheel, which sets BATCHVIZ_INSTALLED")


class InstalledBot(BotProcess):
    """`batchviz run` from the install, started in a folder away from the checkout."""

    def command(self) -> list[str]:
        return [INSTALLED, "run", "--config", str(self.config)]


def test_installed_bot_checks_then_answers(world, real_server, tmp_path):
    """`batchviz check` exits 0 against a good setup, then `batchviz run` answers `help`."""
    assert Path(__file__).resolve().parents[2] not in Path(INSTALLED).resolve().parents, "not an install"
    ada = world.person("Ada")
    stream = world.stream("welcome", [ada])
    ada.post(stream, TOPIC, "Hi! I write compilers and love parsing.")
    port = free_port()
    config = tmp_path / "zuliprc"
    shutil.copy(world.server.bot_rc, config)
    with open(config, "a", encoding="utf-8") as handle:
        handle.write(f"\n[batchviz]\nsource_stream = {stream}\nsource_topic = {TOPIC}\n"
                     f"data_dir = {tmp_path / 'data'}\nweb_port = {port}\npublic_url = http://127.0.0.1:{port}\n")
    check = subprocess.run([INSTALLED, "check", "--config", str(config)], cwd=tmp_path, capture_output=True,
                           text=True, timeout=600)
    print(check.stdout, check.stderr)
    assert check.returncode == 0, check.stdout + check.stderr
    bot = InstalledBot(config, tmp_path / "data", tmp_path / "bot.log")
    bot.cwd = tmp_path
    try:
        bot.start()
        bot.wait_log("Registered event queue")
        asked = ada.dm_bot("help")
        [reply] = wait_for(lambda: ada.dm_replies(after=asked), "the installed bot's first answer")
        assert "near me" in reply["content"]
        # the kit's bot account is shared: this process, not another one, answered
        bot.wait_log(f"Command help from user {ada.user_id}")
    finally:
        print(bot.current_log()[-3000:])
        assert bot.stop(timeout=180) == 0  # a build under way (the bundled model) is waited for
