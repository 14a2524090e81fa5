"""Parsing and validating settings text: value parsers and the section reader.

Each parser turns the text of one value into its typed value, or raises `ValueError`
saying what is allowed; `parse_section` applies a table of them to one section of the
file and notes each failure, naming the file, the section and the key, in `Problems`,
which reports every bad setting of the file in one `SettingsError`.
The table itself, the single source of keys, defaults and help, lives in `bot.settings`.
"""

from __future__ import annotations

import configparser
import difflib
import re
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger


class SettingsError(Exception):
    """A setting that cannot be used; the message names the file, the key and the fix."""


class Problems:
    """Every problem found in one settings file, raised together as one `SettingsError`."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        self.lines.append(line)

    def check(self) -> None:
        if len(self.lines) == 1:
            raise SettingsError(self.lines[0])
        if self.lines:
            raise SettingsError(f"{len(self.lines)} problems in the settings:\n"
                                + "\n".join(f"- {line}" for line in self.lines))


# ---- parsers: text → value, ValueError saying what is allowed ----------------------


def text(value: str) -> str:
    return value.strip()


def integer(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return number

    return parse


def optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse_optional(value: str) -> Any:
        return None if not value.strip() else parse(value)

    return parse_optional


def choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value.strip().lower() not in allowed:
            raise ValueError("expected one of: " + ", ".join(allowed))
        return value.strip().lower()

    return parse


def boolean(value: str) -> bool:
    word = value.strip().lower()
    if word in ("true", "yes", "on", "1"):
        return True
    if word in ("false", "no", "off", "0"):
        return False
    raise ValueError("expected true or false")


def regex(value: str) -> str:
    try:
        re.compile(value.strip())
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc})") from None
    return value.strip()


def cron(value: str) -> str:
    try:
        CronTrigger.from_crontab(value.strip())
    except ValueError as exc:
        raise ValueError(f"not a valid crontab line 'min hour day month weekday' ({exc})") from None
    return value.strip()


def timezone(value: str) -> str:
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone such as UTC or Europe/Berlin") from None
    return value.strip()


def name_list(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


def components(value: str) -> int:
    return int(choice("2", "3")(value))


def url(value: str) -> str:
    if value.strip() and not re.match(r"https?://[^\s/]+", value.strip()):
        raise ValueError("expected an http:// or https:// URL")
    return value.strip().rstrip("/")


# ---- the file and its sections -----------------------------------------------------


def read_file(path: Path) -> configparser.ConfigParser:
    """The parsed zuliprc; a SettingsError naming the file when it can't be read."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read the settings file ({exc.strerror})") from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: not a valid zuliprc ({str(exc).splitlines()[0]})") from None
    return parser


def parse_section(path: Path, section: str, raw: dict[str, str],
                  table: dict[str, Callable[[str], Any]], problems: Problems) -> dict[str, Any]:
    """The keys of a section parsed by their table entries; each bad or unknown key (with
    a did-you-mean) is noted in `problems` and left out."""
    values = {}
    for key, value in raw.items():
        if key not in table:
            problems.add(_unknown(path, section, key, list(table)))
            continue
        try:
            values[key] = table[key](value)
        except ValueError as exc:
            problems.add(f"{path}: [{section}] {key} = {value!r}: {exc}")
    return values


def _unknown(path: Path, section: str, key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
    return f"{path}: [{section}] unknown key {key!r}{hint}"
