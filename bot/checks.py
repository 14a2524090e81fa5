"""`batchviz check`: everything that would stop the bot, or make it fail quietly, found at once.

Each check returns `Finding`s (ok, warning or problem, each one line saying what to fix);
`check_all` runs every check that the settings allow and never stops at the first
problem. `batchviz run` runs the same checks at start (`quick=True`: the model is only
looked for, not loaded, and `public_url` is probed once the map server is up). The checks
against Zulip are in `bot.checks_zulip`; the `public_url` probe in `bot.checks_web`.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from bot.findings import EXIT_CODES, OK, PROBLEM, WARNING, Finding, ok, problem, warning  # noqa: F401
from bot.settings import SettingsError, load_settings

log = logging.getLogger(__name__)

LOW_DISK, NO_DISK = 1024**3, 100 * 1024**2  # bytes free: warn below 1 GiB, refuse below 100 MiB


def exit_code(findings: list[Finding]) -> int:
    """0 when all is well, 1 when anything is a problem, else 2 for warnings."""
    levels = {finding.level for finding in findings}
    return EXIT_CODES[PROBLEM] if PROBLEM in levels else EXIT_CODES[WARNING] if WARNING in levels else 0


def summary(findings: list[Finding]) -> str:
    counts = {level: sum(f.level == level for f in findings) for level in (PROBLEM, WARNING)}
    if not any(counts.values()):
        return "all checks passed"
    return f"{counts[PROBLEM]} problem(s), {counts[WARNING]} warning(s)"


# ---- settings, data folder, model -----------------------------------------------------


def check_settings(path: str | Path):
    """(settings or None, findings): every bad key at once (the settings' own report)."""
    try:
        settings = load_settings(path)
        settings.check_runnable()
    except (SettingsError, OSError) as exc:
        return None, [problem("settings", str(exc))]
    return settings, [ok("settings", f"{path}: {len(settings.sources)} source(s), web_mode {settings.web_mode}")]


def check_data_dir(settings) -> list[Finding]:
    """The data folder can be written, has room, and holds a schema this version knows."""
    folder = Path(settings.data_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".check-"):
            pass
    except OSError as exc:
        return [problem("data folder", f"{folder} cannot be written ({exc.strerror or exc}): "
                        f"fix data_dir or the folder's owner")]
    free = shutil.disk_usage(folder).free
    found = [_disk(folder, free)] + _schema(settings.database)
    return found


def _disk(folder: Path, free: int) -> Finding:
    shown = f"{free / 1024**3:.1f} GiB free"
    if free < NO_DISK:
        return problem("data folder", f"{folder}: only {shown}; builds and the database need room")
    if free < LOW_DISK:
        return warning("data folder", f"{folder}: only {shown}; maps and snapshots need room to grow")
    return ok("data folder", f"{folder} is writable, {shown}")


def _schema(database: Path) -> list[Finding]:
    """A database written by a newer batchviz would be refused at start; say so now."""
    if not database.exists():
        return [ok("database", f"{database.name} will be created at the first start")]
    from storage.migrations import MIGRATIONS

    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as exc:
        return [problem("database", f"{database} cannot be read: {exc}")]
    if version > len(MIGRATIONS):
        return [problem("database", f"{database} has schema version {version}, newer than this "
                        f"batchviz ({len(MIGRATIONS)}): upgrade batchviz or use another data_dir")]
    upgrade = f" (upgraded to {len(MIGRATIONS)} at start)" if version < len(MIGRATIONS) else ""
    return [ok("database", f"{database.name}: schema version {version}{upgrade}")]


def check_model(settings, quick: bool = False) -> list[Finding]:
    """The embedding model loads and embeds a sentence; `quick`: only that it is there."""
    spec = settings.embedder_spec()
    if spec.model == "hashing":
        return [ok("model", "hashing (the test embedder)")]
    try:
        if quick:
            return [_model_present(spec)]
        vectors = spec.load().encode(["checking that the model loads"])
    except Exception as exc:  # ModelLoadError, or any loader failure: the same to the user
        return [problem("model", str(exc))]
    return [ok("model", f"{spec.model or 'bundled all-MiniLM-L6-v2'} ({spec.backend}) loads, "
               f"{vectors.shape[1]} dimensions")]


def _model_present(spec) -> Finding:
    """Without loading it: the bundled model's folder, a local folder, or a hub name."""
    if spec.model is None:
        from pipeline.embed import _bundled_path

        return ok("model", f"bundled all-MiniLM-L6-v2 at {_bundled_path()}")
    if Path(spec.model).expanduser().exists():
        return ok("model", f"{spec.model} (a local folder)")
    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    return warning("model", f"{spec.model} is not a local folder: it is loaded from the model hub's "
                   f"cache{' (offline)' if offline else ', downloaded if missing'} at the first build")


# ---- all of them ---------------------------------------------------------------------


def check_all(path: str | Path, quick: bool = False, probe_web: bool = True) -> tuple[object, list[Finding]]:
    """(settings or None, every finding). `quick` (at `run`): no model load, no web probe."""
    from bot.checks_web import check_public_url
    from bot.checks_zulip import check_zulip

    settings, found = check_settings(path)
    if settings is None:
        return None, found
    found += check_zulip(settings)
    found += check_data_dir(settings)
    if probe_web and not quick:
        found += check_public_url(settings)
    found += check_model(settings, quick)
    return settings, found


def at_start(settings, io) -> None:
    """`run`'s checks before it starts, with the bot's own Zulip client `io`: the same,
    without loading the model (the build worker does) or probing public_url
    (`bot.checks_web.probe_running` does, once the map server is up)."""
    from bot.checks_zulip import check_zulip

    refuse_problems(check_zulip(settings, io) + check_data_dir(settings) + check_model(settings, quick=True))


def report(findings: list[Finding]) -> str:
    return "\n".join([f.line() for f in findings] + [summary(findings)])


def refuse_problems(findings: list[Finding]) -> None:
    """At `run`: log the warnings; raise one SettingsError naming every problem."""
    for finding in findings:
        if finding.level == WARNING:
            log.warning("check: %s: %s", finding.area, finding.message)
    problems = [finding for finding in findings if finding.level == PROBLEM]
    if problems:
        raise SettingsError(f"{len(problems)} problem(s) found before starting (batchviz check lists them):\n"
                            + "\n".join(f"- {f.area}: {f.message}" for f in problems))
