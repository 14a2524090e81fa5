"""One finding of `batchviz check`: ok, warning or problem, and the line that says what to fix."""

from __future__ import annotations

from dataclasses import dataclass

OK, WARNING, PROBLEM = "ok", "warning", "problem"
EXIT_CODES = {OK: 0, PROBLEM: 1, WARNING: 2}


@dataclass(frozen=True)
class Finding:
    level: str  # OK, WARNING or PROBLEM
    area: str  # what was checked: "settings", "server", "source main" …
    message: str

    def line(self) -> str:
        return f"{self.level:<8} {self.area}: {self.message}"


def ok(area: str, message: str) -> Finding:
    return Finding(OK, area, message)


def warning(area: str, message: str) -> Finding:
    return Finding(WARNING, area, message)


def problem(area: str, message: str) -> Finding:
    return Finding(PROBLEM, area, message)
