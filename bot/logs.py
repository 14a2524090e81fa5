"""The bot's log lines, made for journald as well as a terminal.

One line an event: on a terminal a traceback keeps its lines; elsewhere (journald, a
file) its lines are joined with " | ", so no event is split across entries. No colour
is ever written. `log_format = json` writes one JSON object a line instead (time,
level, logger, message, and the traceback as one string), for log shippers.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timezone

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")
_current = "text"


class OneLine(logging.Formatter):
    """The text format; multi-line messages and tracebacks joined into one line."""

    def format(self, record: logging.LogRecord) -> str:
        return " | ".join(line for line in super().format(record).splitlines() if line.strip())


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def formatter(kind: str, stream=None) -> logging.Formatter:
    if kind == "json":
        return JsonLines()
    tty = (stream or sys.stderr).isatty()
    return logging.Formatter(LOG_FORMAT) if tty else OneLine(LOG_FORMAT)


def configure(level: str | int, kind: str = "text") -> None:
    """Log to stderr at `level` in the `kind` format (text or json), replacing any handler."""
    global _current
    _current = kind
    if not sys.stderr.isatty():  # progress bars (tqdm: model loading, embedding) are no log lines
        os.environ.setdefault("TQDM_DISABLE", "1")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(kind, sys.stderr))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if isinstance(level, str) else level)


def current() -> str:
    """The format chosen in this process (passed on to the build worker)."""
    return _current
