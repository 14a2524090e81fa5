"""Running as a service: the systemd unit and the journald-friendly log lines."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import sys
from pathlib import Path

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]
LOG_A_TRACEBACK = """
import logging
from bot.logs import configure
configure("info", sys.argv[1])
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("batchviz.test").exception("a build failed\\nsecond line")
logging.getLogger("batchviz.test").info("then this")
"""


def logged(kind: str) -> list[str]:
    """The stderr lines of a process that logs a traceback, stderr a pipe (as under systemd)."""
    done = subprocess.run([sys.executable, "-c", "import sys\n" + LOG_A_TRACEBACK, kind], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stderr.splitlines()


def test_text_logs_are_one_line_an_event_without_colour():
    first, second = logged("text")
    assert "ERROR batchviz.test: a build failed | second line | Traceback" in first
    assert "ZeroDivisionError" in first and "\x1b[" not in first
    assert second.endswith("INFO batchviz.test: then this")


def test_json_logs():
    first, second = (json.loads(line) for line in logged("json"))
    assert first["level"] == "ERROR" and first["message"] == "a build failed\nsecond line"
    assert "ZeroDivisionError" in first["traceback"]
    assert second["message"] == "then this" and second["logger"] == "batchviz.test"


def test_service_unit(tmp_path, capsys):
    """A dedicated user, the data folder writable, restart on failure, SIGTERM to stop."""
    rc = tmp_path / "zuliprc"
    rc.write_text("[api]\nemail = b@x\nkey = k\nsite = https://zulip.example\n"
                  "[batchviz]\nsource_stream = welcome\ndata_dir = /var/lib/batchviz\n")
    assert main(["service", "--print", "--config", str(rc)]) == 0
    text = capsys.readouterr().out
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str
    unit.read_string(text)
    service = unit["Service"]
    assert service["User"] == "batchviz" and service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM" and service["StateDirectory"] == "batchviz"
    assert service["ExecStart"].endswith(f"run --config {rc.resolve()}")
    assert Path(service["ExecStart"].split()[0]).exists()
    assert service["ReadWritePaths"] == "/var/lib/batchviz"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    if shutil.which("systemd-analyze"):  # systemd's own reading of the unit
        (tmp_path / "batchviz.service").write_text(text)
        verified = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "batchviz.service")],
                                  capture_output=True, text=True, timeout=60)
        assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr
