"""`batchviz service --print`: a systemd unit that runs the bot as a service.

A dedicated system user, the data folder as the unit's state directory, restart on
failure (after `run`'s start-up checks, too: a Zulip still starting is tried again), a
clean stop on SIGTERM (the bot's ordered shutdown), and logs to journald, one line an
event. The paths are the ones of this install and of the given zuliprc.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

USER = "batchviz"
STOP_SECONDS = 120  # a build under way is waited for; then systemd kills (a killed build is thrown away whole)

UNIT = """\
# batchviz as a systemd service. Install:
#   sudo useradd --system --home-dir {data_dir} --shell /usr/sbin/nologin {user}
#   sudo install -o root -g {user} -m 0640 zuliprc {config}   (the bot's key: not world-readable)
#   batchviz service --print --config {config} | sudo tee /etc/systemd/system/batchviz.service
#   sudo systemctl daemon-reload && sudo systemctl enable --now batchviz
#   journalctl -u batchviz -f        curl -s http://{web_host}:{web_port}/healthz
# In the zuliprc's [batchviz] section, data_dir = {data_dir}.
[Unit]
Description=batchviz: a Zulip bot that maps a community's introductions
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={user}
Group={user}
ExecStart={command} run --config {config}
WorkingDirectory={data_dir}
StateDirectory={state}
Environment=PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
Restart=on-failure
RestartSec=15
KillSignal=SIGTERM
TimeoutStopSec={stop}
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ReadWritePaths={data_dir}

[Install]
WantedBy=multi-user.target
"""


def batchviz_command() -> str:
    """This install's `batchviz` (next to the running Python), or `python -m bot.cli`."""
    beside = Path(sys.executable).with_name("batchviz")
    found = beside if beside.exists() else shutil.which("batchviz")
    return str(found) if found else f"{sys.executable} -m bot.cli"


def unit(settings) -> str:
    """The unit text for these settings (their data folder, map server and zuliprc)."""
    data_dir = Path(settings.data_dir)
    state = data_dir.relative_to("/var/lib") if data_dir.is_relative_to("/var/lib") else "batchviz"
    return UNIT.format(user=USER, data_dir=data_dir, config=Path(settings.path).resolve(), state=state,
                       command=batchviz_command(), stop=STOP_SECONDS, web_host=settings.web_host,
                       web_port=settings.web_port)
