"""The ``batchviz`` command: ``map``, ``demo``, ``export``, ``settings``, ``run`` and ``forget``.

A thin layer: it parses arguments, calls the library, and turns domain errors into
``batchviz: error: <message>`` with exit status 2 — never a traceback for a user error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bot import service
from bot.answers import Answerer
from bot.chat import UnknownPersonError, chat, choose_person
from bot.departures import NotStored, forget_now
from bot.queries import InProcessQueries
from bot.settings import SETTINGS, SettingsError, database_path, load_settings, render_example
from bot.zulip_io import ZulipError
from pipeline.embed import BACKENDS
from pipeline.errors import PipelineError
from pipeline.params import PipelineParams
from pipeline.result import MapResult
from storage import StorageError, Store

USER_ERRORS = (SettingsError, PipelineError, StorageError, UnknownPersonError, OSError, ZulipError, NotStored)
DEMO_SOURCE, CSV_SOURCE = "demo", "csv"
EXPORT_SOURCES = ("main", DEMO_SOURCE, CSV_SOURCE)
_DEFAULTS = {setting.name: setting.default for setting in SETTINGS}


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _embedder(args: argparse.Namespace, prefix: str = ""):
    from pipeline.embed import load_embedder

    if args.model == "hashing":
        return load_embedder("hashing")
    return load_embedder(args.model or None, prefix, max_tokens=args.max_tokens, backend=args.backend,
                         show_progress=True)


def _params(args: argparse.Namespace) -> PipelineParams:
    return PipelineParams(components=args.components, keywords=args.keywords)


def _names(args: argparse.Namespace) -> service.NamePolicy:
    return service.NamePolicy(args.pseudonymize, tuple(args.keep or ()), PipelineParams().random_state)


def _summary(result: MapResult) -> list[str]:
    lines = [f"{len(result)} people, {len(result.clusters)} groups, {result.noise_count} not in a group"]
    if result.notice:
        lines.append(f"note: {result.notice}")
    for number in sorted(result.clusters):
        cluster = result.clusters[number]
        lines.append(f"  group {number} ({len(cluster.members)}): {', '.join(cluster.keywords)}")
    return lines


def _progress(stage: str) -> None:
    _stderr(f"  … {stage.replace('_', ' ')}")


def _show_pipeline_log() -> None:
    """The pipeline's own lines (the model's one-time ONNX export, a fall back to torch) on
    the terminal, like the stage lines; ``run`` logs them through its logging set-up instead."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  … %(message)s"))
    pipeline_log = logging.getLogger("pipeline")
    pipeline_log.addHandler(handler)
    pipeline_log.setLevel(logging.INFO)


# ---- map --------------------------------------------------------------------------


def cmd_map(args: argparse.Namespace) -> int:
    from pipeline.build import build_map
    from pipeline.csv_import import read_csv
    from pipeline.embed import MemoryCache
    from pipeline.render import render_html, render_png

    documents = read_csv(args.csv)
    embedder = _embedder(args, args.prefix)
    store = Store(database_path(args.data_dir)) if args.data_dir else None
    try:
        previous = store.latest_snapshot(CSV_SOURCE) if store else None
        result = build_map(documents, _params(args), embedder, cache=store or MemoryCache(),
                           previous=previous, progress=_progress)
        if store:
            store.save_snapshot(CSV_SOURCE, result)
    finally:
        if store:
            store.close()
    names = _names(args).names(result)
    Path(args.output).write_text(render_html(result, title=Path(args.csv).stem, names=names), encoding="utf-8")
    outputs = [args.output]
    if args.png:
        render_png(result, args.png, names=names)
        outputs.append(args.png)
    print("\n".join(_summary(result) + [f"wrote {path}" for path in outputs]))
    return 0


# ---- demo -------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from pipeline.demo import load_demo

    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    embedder = _embedder(args)
    with Store(database_path(data_dir)) as store:
        service.import_documents(store, DEMO_SOURCE, load_demo())

        def build() -> service.RebuildResult:
            built = service.rebuild(store, DEMO_SOURCE, PipelineParams(), embedder, progress=_progress)
            built.html_path, built.png_path = service.write_outputs(
                built.result, data_dir, "demo-map", service.NamePolicy(), title="batchviz demo")
            return built

        built = build()
        print("\n".join(_summary(built.result)))
        print(f"map: {built.html_path}\npreview: {built.png_path}")
        if args.no_chat:
            return 0
        asker = choose_person(built.result, args.as_name)
        answerer = Answerer(store, DEMO_SOURCE, links=lambda: built.html_path.resolve().as_uri(),
                            refresh=lambda _asker: "\n".join(["Rebuilt the demo map."] + build().changes),
                            join_where="the demo introductions (pipeline/demo_data/introductions.csv)",
                            encode=InProcessQueries(embedder))
        chat(answerer, asker, args.say)
    return 0


# ---- export -----------------------------------------------------------------------


def export_frame(result: MapResult):
    import pandas as pd

    axes = "xyz"[: result.coords.shape[1]]
    frame = pd.DataFrame({
        "person_id": [doc.person_id for doc in result.people],
        "name": [doc.name for doc in result.people],
        "cluster": [int(label) for label in result.labels],
    })
    for column, axis in enumerate(axes):
        frame[axis] = result.coords[:, column].astype(float)
    frame["embedding"] = [row.astype(float).tolist() for row in result.embeddings]
    return frame


def cmd_export(args: argparse.Namespace) -> int:
    database = database_path(args.data_dir)
    if not database.exists():
        raise StorageError(f"no batchviz database in {args.data_dir} (expected {database})")
    with Store(database) as store:
        sources = [args.source] if args.source else EXPORT_SOURCES
        found = [(s, store.latest_snapshot(s)) for s in sources]
        found = [(s, result) for s, result in found if result is not None]
    if not found:
        raise StorageError(f"no map of source {' or '.join(map(repr, sources))} in {database}")
    source, result = found[0]
    export_frame(result).to_parquet(args.output, index=False)
    print(f"wrote {len(result)} people of source {source!r} to {args.output}")
    return 0


# ---- settings and run -------------------------------------------------------------


def cmd_settings(args: argparse.Namespace) -> int:
    if args.example:
        print(render_example(), end="")
        return 0
    for setting in SETTINGS:
        print(f"{setting.name} = {setting.default}\n    {setting.help}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    from bot import logs

    logs.configure(settings.log_level, settings.log_format)
    from bot.runner import run  # the chat path's imports, only when running

    run(settings)
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    from bot import logs

    logs.configure(settings.log_level, settings.log_format)
    user_id, deleted = forget_now(settings, args.user)
    print(f"Forgot user {user_id}: {deleted} message(s) deleted, and they are kept out until they "
          "opt in again; the next map leaves them out.")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from bot import checks

    _, findings = checks.check_all(args.config)
    print(checks.report(findings))
    return checks.exit_code(findings)


def cmd_service(args: argparse.Namespace) -> int:
    from bot.systemd import unit

    print(unit(load_settings(args.config)), end="")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from storage.backup import backup

    size = backup(database_path(args.data_dir), args.output)
    print(f"wrote {args.output} ({size / 1024**2:.1f} MiB), a consistent copy of {database_path(args.data_dir)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batchviz", description="Map a community's introductions.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def embedding_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--model", help="sentence-transformers name or path, or 'hashing' (default: bundled all-MiniLM-L6-v2)")
        sub.add_argument("--max-tokens", type=int, default=_DEFAULTS["embedding_max_tokens"] or None, metavar="N",
                         help="cut each text at N word pieces (the embedding_max_tokens setting)")
        sub.add_argument("--backend", choices=BACKENDS, default=_DEFAULTS["embedding_backend"],
                         help="what runs the model: onnx or torch (the embedding_backend setting)")

    one = commands.add_parser("map", help="build a map from a CSV of introductions")
    one.add_argument("--csv", required=True, help="name,text CSV (or the seed script's format)")
    one.add_argument("-o", "--output", default="map.html", help="interactive HTML map (default: map.html)")
    one.add_argument("--png", help="also write a PNG preview here")
    one.add_argument("--components", type=int, choices=(2, 3), default=int(_DEFAULTS["components"]))
    one.add_argument("--pseudonymize", action="store_true", help="show made-up names")
    one.add_argument("--keep", nargs="*", metavar="NAME", help="names kept when pseudonymizing")
    embedding_options(one)
    one.add_argument("--prefix", default="", help="text put before each document (e.g. 'clustering: ')")
    one.add_argument("--keywords", choices=("ctfidf", "mmr", "sentences"), default=_DEFAULTS["keywords"])
    one.add_argument("--data-dir", help="keep the embedding cache and the snapshot here")
    one.set_defaults(func=cmd_map)

    demo = commands.add_parser("demo", help="build the bundled demo map and chat with the bot locally")
    demo.add_argument("--data-dir", default=_DEFAULTS["data_dir"])
    demo.add_argument("--as", dest="as_name", metavar="NAME", help="chat as this demo person (default: the first)")
    demo.add_argument("--say", action="append", metavar="TEXT", help="say this, print the answer (repeatable)")
    demo.add_argument("--no-chat", action="store_true", help="only build the map")
    embedding_options(demo)
    demo.set_defaults(func=cmd_demo)

    export = commands.add_parser("export", help="write the latest map to a Parquet file")
    export.add_argument("--data-dir", required=True)
    export.add_argument("--source", help=f"which map (default: the first of {', '.join(EXPORT_SOURCES)} that exists)")
    export.add_argument("-o", "--output", required=True)
    export.set_defaults(func=cmd_export)

    settings = commands.add_parser("settings", help="list the settings of the [batchviz] section")
    settings.add_argument("--example", action="store_true", help="print zuliprc.example")
    settings.set_defaults(func=cmd_settings)

    run = commands.add_parser("run", help="run the Zulip bot")
    run.add_argument("--config", required=True, metavar="ZULIPRC")
    run.set_defaults(func=cmd_run)

    forget = commands.add_parser("forget", help="delete everything stored about one person, at once (admins)")
    forget.add_argument("user", metavar="USER", help="their Zulip user id or email")
    forget.add_argument("--config", required=True, metavar="ZULIPRC")
    forget.set_defaults(func=cmd_forget)

    check = commands.add_parser("check", help="check the settings, Zulip, the data folder, public_url and the "
                                "model; exit 0 ok, 1 problems, 2 warnings")
    check.add_argument("--config", required=True, metavar="ZULIPRC")
    check.set_defaults(func=cmd_check)

    unit = commands.add_parser("service", help="print a systemd unit that runs the bot as a service")
    unit.add_argument("--print", action="store_true", required=True, help="print the unit (to stdout)")
    unit.add_argument("--config", required=True, metavar="ZULIPRC")
    unit.set_defaults(func=cmd_service)

    saved = commands.add_parser("backup", help="copy the database safely, even while the bot runs")
    saved.add_argument("--data-dir", required=True)
    saved.add_argument("-o", "--output", required=True, help="the new file (must not exist)")
    saved.set_defaults(func=cmd_backup)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("map", "demo"):
        _show_pipeline_log()
    try:
        return args.func(args)
    except USER_ERRORS as exc:
        _stderr(f"batchviz: error: {exc}")
        return 2
    except KeyboardInterrupt:
        _stderr("batchviz: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
