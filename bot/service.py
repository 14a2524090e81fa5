"""Rebuilding a source's map: storage → ``build_map`` → HTML and PNG files → snapshot.

Map files are written under a random, unguessable stem (to a temporary file, then
renamed), and the snapshot naming that stem is saved only once both exist, so a link
never finds a half-written page. After each build, files no snapshot may serve any more
(pruned by retention, or holding someone who opted out) are deleted.

Shared by the bot's refreshes, the weekly post, the local demo and the CLI. Also what
changed between two maps (``describe_changes``), matched by who is in which cluster,
because cluster numbers are only stable where the members are.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from bot.answers import md
from pipeline.documents import Document
from pipeline.errors import PipelineError
from pipeline.params import PipelineParams
from pipeline.pseudonym import pseudonyms_for
from pipeline.result import MapResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NamePolicy:
    """How names appear on the rendered map."""

    pseudonymize: bool = False
    keep: tuple[str, ...] = ()
    seed: int = 42
    site: str = ""  # the Zulip server, for DM links on the map; empty when not from Zulip

    def names(self, result: MapResult) -> dict[str, str] | None:
        return pseudonyms_for(result.people, self.keep, self.seed) if self.pseudonymize else None


@dataclass
class RebuildResult:
    result: MapResult
    snapshot_id: int | None
    html_path: Path | None
    png_path: Path | None
    changes: list[str] = field(default_factory=list)


def offline_message_id(source: str, person_id: str) -> int:
    """A stable negative id for a message that did not come from Zulip (demo, CSV)."""
    digest = hashlib.sha256(f"{source}\0{person_id}".encode()).hexdigest()
    return -(int(digest[:12], 16) + 1)


def import_documents(store, source: str, documents: Iterable[Document]) -> int:
    """Store documents as if each person had posted their text once, in the given order
    (the position is the timestamp); returns how many."""
    count = 0
    for count, doc in enumerate(documents, 1):
        store.upsert_person(doc.person_id, doc.name)
        store.upsert_message(source, offline_message_id(source, doc.person_id), doc.person_id,
                             doc.raw or doc.text, doc.text, count)
    return count


SUFFIXES = (".html", ".png")
OUR_STEM = re.compile(r"[A-Za-z0-9_-]{24}|[0-9]+")  # token_urlsafe(18), or a snapshot id (older versions)
MAX_ATTEMPTS = 3  # builds refused because someone opted out while they ran
WRITING_KEY = "files.writing.{stem}"  # a build's files written, its snapshot not saved yet
WRITING_HOURS = 6  # longer than any build: a mark this old is a build that died


def _atomic(target: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(temporary path)`` next to ``target``, then rename it into place."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    os.close(fd)
    try:
        write(Path(name))
        os.replace(name, target)
    finally:
        Path(name).unlink(missing_ok=True)


def write_outputs(result: MapResult, folder: Path, stem: str, names: NamePolicy,
                  title: str | None = None) -> tuple[Path, Path]:
    """``<stem>.html`` and ``<stem>.png`` in ``folder``, names shown per the policy; each
    appears whole or not at all."""
    from pipeline.render import render_html, render_png  # plotly, matplotlib: only when drawing

    folder.mkdir(parents=True, exist_ok=True)
    html_path, png_path = folder / f"{stem}.html", folder / f"{stem}.png"
    shown = names.names(result)
    page = render_html(result, title=title, names=shown, site=names.site or None)
    _atomic(html_path, lambda path: path.write_text(page, encoding="utf-8"))
    _atomic(png_path, lambda path: render_png(result, path, names=shown))
    return html_path, png_path


def map_file(store, folder: Path, snapshot_id: int, suffix: str) -> Path | None:
    """A snapshot's map file if it may be served: kept, and nobody on it opted out since."""
    stem = store.servable_files(snapshot_id)
    return Path(folder) / f"{stem}{suffix}" if stem and suffix in SUFFIXES else None


def _being_written(store) -> set[str]:
    """The stems of map files a build is writing (its snapshot not saved yet): an opt-in,
    an opt-out or another build pruning meanwhile must not delete them. A mark older than
    WRITING_HOURS is a build that died: its files go, and so does the mark."""
    marks, now, stems = store.states(WRITING_KEY.format(stem="")), time.time(), set()
    for key, started in marks.items():
        if now - float(started) < WRITING_HOURS * 3600:
            stems.add(key[len(WRITING_KEY.format(stem="")):])
        else:
            store.set_state(key, None)
    return stems


@contextmanager
def writing(store, stem: str) -> Iterator[None]:
    """Mark ``stem``'s files as being written for the length of the block."""
    store.set_state(WRITING_KEY.format(stem=stem), str(time.time()))
    try:
        yield
    finally:
        store.set_state(WRITING_KEY.format(stem=stem), None)


def prune_files(store, source: str, folder: Path) -> None:
    """Delete the map files of the source that no snapshot may serve any more, but not
    those of a build that has written them and not saved its snapshot yet."""
    if not Path(folder).is_dir():
        return
    keep = store.servable_stems(source) | _being_written(store)
    for path in Path(folder).iterdir():
        if path.suffix in SUFFIXES and OUR_STEM.fullmatch(path.stem) and path.stem not in keep:
            path.unlink(missing_ok=True)


def rebuild(store, source: str, params: PipelineParams, embedder, outputs: Path | None = None,
            names: NamePolicy = NamePolicy(), progress: Callable[[str], None] | None = None,
            title: str | None = None, refit: bool = False) -> RebuildResult:
    """Build the source's map from storage, render it and save it as a snapshot. A build
    that someone opted out of while it ran is thrown away and done again.

    A few newcomers are placed on the previous map's fit when this process made it;
    ``refit=True`` (the nightly scheduled rebuild) always fits the whole map afresh (the
    rule: ``pipeline.incremental``)."""
    from pipeline.build import build_map  # UMAP, HDBSCAN: only when building

    previous = store.latest_snapshot(source)
    for _ in range(MAX_ATTEMPTS):
        result = build_map(store.documents(source), params, embedder, cache=store,
                           previous=previous, progress=progress, refit=refit)
        stem = secrets.token_urlsafe(18)
        html_path = png_path = None
        with writing(store, stem):
            if outputs is not None and len(result):
                html_path, png_path = write_outputs(result, Path(outputs), stem, names, title)
            snapshot_id = store.save_snapshot(source, result, files=stem if html_path else "")
        if snapshot_id is not None:
            break
        log.info("source %s: someone opted out during the build; building again", source)
        for path in (html_path, png_path):
            if path is not None:
                path.unlink(missing_ok=True)
    else:
        raise PipelineError("people kept opting out during the build; try again later")
    log.info("source %s: snapshot %s with %d people", source, snapshot_id, len(result))
    if outputs is not None:
        prune_files(store, source, Path(outputs))
    return RebuildResult(result, snapshot_id, html_path, png_path, describe_changes(previous, result))


# ---- what changed -------------------------------------------------------------------


def _members(result: MapResult) -> dict[int, set[str]]:
    return {n: {result.people[i].person_id for i in c.members} for n, c in result.clusters.items()}


def _mostly_in(part: set[str], whole: set[str]) -> bool:
    """More than half of ``part`` is in ``whole``."""
    return len(part & whole) > len(part) / 2


def _related(old: dict[int, set[str]], new: dict[int, set[str]]) -> tuple[set, set]:
    """(old, new) pairs where the old cluster went mostly into the new one, and pairs where
    the new cluster came mostly from the old one. A merge needs two old clusters of the
    first kind in one new cluster, a split two new clusters of the second kind from one
    old cluster, so a few people moving between groups is neither."""
    went = {(o, n) for o, a in old.items() for n, b in new.items() if _mostly_in(a, b)}
    came = {(o, n) for o, a in old.items() for n, b in new.items() if _mostly_in(b, a)}
    return went, came


def _keywords(result: MapResult, number: int) -> str:
    return ", ".join(md(word) for word in result.clusters[number].keywords[:3])


def _joined(numbers: Iterable[int]) -> str:
    numbers = [str(n) for n in sorted(numbers)]
    return numbers[0] if len(numbers) == 1 else ", ".join(numbers[:-1]) + " and " + numbers[-1]


def _people_changes(old: MapResult, new: MapResult) -> list[str]:
    """Who joined. Departures are never told: these lines are posted in streams, and
    "1 person left" would say that someone opted out, and when."""
    before = {doc.person_id for doc in old.people}
    joined = [doc.name for doc in new.people if doc.person_id not in before]
    return [f"New on the map ({len(joined)}): " + ", ".join(md(name) for name in joined)] if joined else []


def _cluster_changes(old: MapResult, new: MapResult) -> list[str]:
    went, came = _related(_members(old), _members(new))
    related = went | came
    lines = []
    for n in sorted(new.clusters):
        merged = {o for o, m in went if m == n}
        if len(merged) > 1:
            lines.append(f"Groups {_joined(merged)} merged into group {n}: {_keywords(new, n)}")
        elif not any(m == n for _, m in related):
            lines.append(f"New group {n}: {_keywords(new, n)}")
    for o in sorted(old.clusters):
        pieces = {n for p, n in came if p == o}
        if len(pieces) > 1:
            lines.append(f"Group {o} split into groups {_joined(pieces)}")
        elif not any(p == o for p, _ in related):
            lines.append(f"Group {o} ({_keywords(old, o)}) dissolved")
    return lines


def describe_changes(old: MapResult | None, new: MapResult) -> list[str]:
    """Plain-text lines saying what changed from ``old`` to ``new`` (for posts and replies)."""
    if old is None:
        groups = len(new.clusters)
        return [f"First map: {len(new)} people in {groups} group{'' if groups == 1 else 's'}."]
    lines = _people_changes(old, new) + _cluster_changes(old, new)
    return lines or ["No changes since the previous map."]
