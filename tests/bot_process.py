"""`python -m bot.cli run --config RC` as a child process, its log kept in a file: the
one wrapper the reliability suite and the real-Zulip tier both start the bot with."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class BotProcess:
    """The real bot process; `start` may be called again after `kill` or `stop`."""

    cwd = ROOT

    def command(self) -> list[str]:
        """How the bot is started (an installed `batchviz` in the wheel's test)."""
        return [sys.executable, "-m", "bot.cli", "run", "--config", str(self.config)]

    def __init__(self, config: Path, log_path: Path):
        self.config = config
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> "BotProcess":
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"==== start {self.starts}\n")
            log.flush()
            self.proc = subprocess.Popen(self.command(), cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM and wait for the ordered shutdown; the exit status (None if it had to be
        killed, or never ran)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def current_log(self) -> str:
        """The log written since the latest start."""
        return self.log().rsplit(f"==== start {self.starts - 1}\n", 1)[-1]

    def count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.current_log()))
