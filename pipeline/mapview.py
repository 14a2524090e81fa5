"""What a map shows, whatever draws it: points, groups, and the words on it.

Shared by the interactive page (``render.py``) and the PNG preview (``preview.py``).
Everything here is plain text; each renderer makes it safe for its own medium.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

import numpy as np

from pipeline.result import NOISE, MapResult

NOISE_NAME = "not in a group"
DEFAULT_TITLE = "Introductions map"
MAX_NAME_CHARS = 80
MAX_KEYWORD_CHARS = 40
LEGEND_KEYWORDS = 3
INTRO_CHARS = 200
WRAP_WIDTH = 60


@dataclass
class Group:
    """The people drawn together: a cluster, or the noise (``number == NOISE``)."""

    number: int
    indices: np.ndarray  # into MapResult.people
    label: str  # legend text


def shorten(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, whitespace collapsed, ``…`` when cut."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def points(result: MapResult) -> np.ndarray:
    """The picture's coordinates as ``(n, 2)`` or ``(n, 3)`` floats, whatever came in."""
    coords = np.asarray(result.coords, dtype=float)
    if coords.ndim != 2 or len(coords) != len(result):
        coords = coords.reshape(len(result), -1) if len(result) else np.zeros((0, 2))
    if coords.shape[1] >= 3:
        return coords[:, :3]
    return np.hstack([coords, np.zeros((len(result), 2 - coords.shape[1]))])


def display_name(result: MapResult, index: int, names: dict[str, str] | None = None) -> str:
    doc = result.people[index]
    name = (names or {}).get(doc.person_id, doc.name)
    return shorten(name, MAX_NAME_CHARS) or "(no name)"


def keywords(result: MapResult, number: int, limit: int | None = None) -> list[str]:
    cluster = result.clusters.get(number)
    words = cluster.keywords if cluster else []
    return [shorten(word, MAX_KEYWORD_CHARS) for word in words[:limit]]


def best_phrase(result: MapResult, number: int) -> str:
    """A group's name in a few words: its best-ranked phrase of two or more words among
    the top ``LEGEND_KEYWORDS`` keywords, else its top two keywords ("rust, coffee"),
    so no group is named by one fragment such as "type"."""
    words = keywords(result, number, LEGEND_KEYWORDS)
    phrase = next((w for w in words if " " in w), None)
    return phrase or ", ".join(words[:2])


def group_name(result: MapResult, number: int) -> str:
    """``"group 3 · machine learning"``, ``"group 3"``, or ``"not in a group"``."""
    if number == NOISE:
        return NOISE_NAME
    phrase = best_phrase(result, number)
    return f"group {number} · {phrase}" if phrase else f"group {number}"


def group_label(result: MapResult, number: int) -> str:
    """Legend text: ``"3 · coffee, climbing, rust"``, or ``"not in a group"``."""
    if number == NOISE:
        return NOISE_NAME
    words = keywords(result, number, LEGEND_KEYWORDS)
    return f"{number} · {', '.join(words)}" if words else str(number)


def groups(result: MapResult) -> list[Group]:
    """Clusters by number, then the noise; only groups somebody is in."""
    labels = np.asarray(result.labels, dtype=int).reshape(-1)
    numbers = sorted(set(labels.tolist()) - {NOISE}) + ([NOISE] if NOISE in labels else [])
    return [Group(n, np.flatnonzero(labels == n), group_label(result, n)) for n in numbers]


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def counts_line(result: MapResult) -> str:
    """``"83 people · 8 groups · 5 not in a group"``."""
    n_groups = sum(1 for g in groups(result) if g.number != NOISE)
    parts = [_count(len(result), "person", "people"), _count(n_groups, "group", "groups")]
    if result.noise_count:
        parts.append(f"{result.noise_count} {NOISE_NAME}")
    return " · ".join(parts)


def heading(result: MapResult, title: str | None = None) -> list[str]:
    """Title, then date and counts, then the notice if there is one."""
    built = result.built_at
    when = f"{built:%Y-%m-%d %H:%M} {built.tzname() or ''}".strip()
    lines = [shorten(title or DEFAULT_TITLE, 120), f"{when} · {counts_line(result)}"]
    if result.notice:
        lines.append(shorten(result.notice, 200))
    return lines


def without_name(text: str, real: str, shown: str) -> str:
    """``text`` with the real name, and each part of it, replaced by the shown name."""
    parts = sorted({real, *real.split()}, key=len, reverse=True)
    words = [re.escape(p) for p in parts if len(p) >= 2]
    if real == shown or not words:
        return text
    return re.sub(rf"\b(?:{'|'.join(words)})\b", shown, text, flags=re.IGNORECASE)


def intro_lines(result: MapResult, index: int, names: dict[str, str] | None = None) -> list[str]:
    """The start of someone's introduction, wrapped for a hover label.

    When the person is shown under a pseudonym, their real name in the text is too.
    """
    doc = result.people[index]
    text = without_name(doc.text or doc.raw, doc.name, display_name(result, index, names))
    return textwrap.wrap(shorten(text, INTRO_CHARS), WRAP_WIDTH, break_long_words=True)


def membership(result: MapResult, index: int) -> str:
    """``"group 3 · coffee, climbing"`` or ``"not in a group"``."""
    return group_membership(result, int(np.asarray(result.labels).reshape(-1)[index]))


def group_membership(result: MapResult, number: int) -> str:
    """What a member of group ``number`` is shown as: ``"group 3 · coffee, climbing"``."""
    if number == NOISE:
        return NOISE_NAME
    words = keywords(result, number)
    return f"group {number} · {', '.join(words)}" if words else f"group {number}"
