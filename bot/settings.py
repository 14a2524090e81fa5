"""The bot's settings: one table is the source for validation, ``zuliprc.example`` and docs.

Settings live in the ``[batchviz]`` section of the standard ``zuliprc`` (whose ``[api]``
section the ``zulip`` client reads). Extra welcome topics are sections named
``[batchviz:source NAME]`` with the keys ``stream``, ``topic`` and ``topic_pattern``.
``load_settings(path)`` reads the file once into a frozen, typed ``Settings``. The value
parsers and the section reader are in ``bot.settings_parse``.
"""

from __future__ import annotations

import configparser
import ipaddress
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from bot.builder import EmbedderSpec
from bot.settings_parse import (
    Problems, SettingsError, boolean, choice, components, cron, integer, name_list, optional,
    parse_section, read_file, regex, text, timezone, url,
)
from pipeline.embed import BACKENDS, DEFAULT_BACKEND
from pipeline.params import PipelineParams

SECTION = "batchviz"
SOURCE_SECTION = "batchviz:source "
MAIN_SOURCE = "main"
DB_FILENAME = "batchviz.sqlite3"
API_KEYS = ("email", "key", "site")


@dataclass(frozen=True)
class Setting:
    name: str
    default: str  # as written in the file; parsed like any other value
    help: str
    parse: Callable[[str], Any] = text


SETTINGS: tuple[Setting, ...] = (
    Setting("source_stream", "", "Stream with the introductions (required to run the bot)."),
    Setting("source_topic", "", "Exact topic of the introductions (empty: every topic)."),
    Setting("source_topic_pattern", "", "Or a regular expression searched in topics, case-insensitive.", regex),
    Setting("post_stream", "", "Stream of the weekly map post (empty: the source stream)."),
    Setting("post_topic", "batchviz map", "Topic of the weekly map post."),
    Setting("post_cron", "0 10 * * mon", "When to post the weekly map (crontab: min hour day month weekday).", cron),
    Setting("refresh_cron", "0 3 * * *", "When to rebuild the map from everything stored.", cron),
    Setting("timezone", "UTC", "Time zone of the two schedules above.", timezone),
    Setting("intro_reaction", "wave", "Emoji the bot reacts with to each new introduction it stores (empty: none).", text),
    Setting("debounce_minutes", "5", "Rebuild this long after the last new introduction.", integer(0, 1440)),
    Setting("refresh_cooldown_minutes", "10", "Minimum time between two `refresh` commands.", integer(0, 1440)),
    Setting("commands_per_minute", "20", "Commands one person may ask per minute; beyond, one 'slow down' note and no answers until the minute has passed (0: no limit).", integer(0, 10_000)),
    Setting("consent_cooldown_minutes", "10", "How long after opting in someone may opt in again (opt out always works).", integer(0, 1440)),
    Setting("forget_departed_days", "30", "Days after a person is deactivated or leaves the organization before everything stored about them is deleted (0: at once).", integer(0, 3660)),
    Setting("embedding_model", "", "sentence-transformers name or path (empty: bundled all-MiniLM-L6-v2)."),
    Setting("embedding_prefix", "", "Text put before each document, e.g. 'clustering: ' for nomic-embed."),
    Setting("embedding_max_tokens", "", "Cut each text at this many word pieces (empty: the model's limit, 256 for the bundled one).", optional(integer(16, 8192))),
    Setting("embedding_backend", DEFAULT_BACKEND, "What runs the model: onnx (ONNX Runtime: the same vectors, a faster start; the model is exported once) or torch. A model onnx cannot run runs on torch, and the log says why.", choice(*BACKENDS)),
    Setting("data_dir", "batchviz-data", "Database and maps folder, relative to this file's folder."),
    Setting("web_mode", "serve", "serve: the bot serves maps; dir: only write them to map_dir; off.", choice("serve", "dir", "off")),
    Setting("web_host", "127.0.0.1", "Address the map web server listens on."),
    Setting("web_port", "8765", "Port the map web server listens on (0: any free port).", integer(0, 65535)),
    Setting("public_url", "", "Base URL people open maps at (empty: the map server's address; file paths in dir mode).", url),
    Setting("link_ttl_hours", "168", "How long a map link works.", integer(1, 24 * 366)),
    Setting("map_retention_days", "30", "Older maps (snapshots and their files) are deleted; the latest is kept.", integer(1, 3660)),
    Setting("map_dir", "", "Folder the maps are written to in dir mode (empty: data_dir/site).", text),
    Setting("pseudonymize", "false", "Show made-up names on the map instead of real ones.", boolean),
    Setting("keep_names", "", "Comma-separated names kept as they are when pseudonymizing.", name_list),
    Setting("components", "2", "Dimensions of the map picture: 2 or 3.", components),
    Setting("neighbours_k", "5", "How many neighbours `near me` shows by default.", integer(1, 20)),
    Setting("keywords", "ctfidf", "How groups are named: ctfidf, mmr or sentences.", choice("ctfidf", "mmr", "sentences")),
    Setting("min_cluster_size", "", "Smallest group (empty: chosen from the number of people).", optional(integer(2, 10_000))),
    Setting("random_state", "42", "Seed of the layout and the pseudonyms.", integer(0, 2**32 - 1)),
    Setting("log_level", "info", "debug, info, warning or error.", choice("debug", "info", "warning", "error")),
    Setting("metrics", "false", "Serve Prometheus metrics at the map server's /metrics (commands, builds, retries, 429s).", boolean),
    Setting("log_format", "text", "text: one line an event (journald-friendly); json: one JSON object a line.", choice("text", "json")),
)
SOURCE_KEYS: dict[str, Callable[[str], Any]] = {"stream": text, "topic": text, "topic_pattern": regex}


@dataclass(frozen=True)
class Source:
    """One welcome topic (or topic pattern, or whole stream) the bot maps on its own."""

    name: str
    stream: str
    topic: str = ""
    topic_pattern: str = ""

    def matches(self, stream: str, topic: str) -> bool:
        if stream.strip().casefold() != self.stream.casefold():
            return False
        if self.topic:
            return topic.strip().casefold() == self.topic.casefold()
        if self.topic_pattern:
            return re.search(self.topic_pattern, topic, re.IGNORECASE) is not None
        return True

    def describe(self) -> str:
        """Where to post, as a Zulip link (links do not ping anyone)."""
        if self.topic:
            return f"#**{self.stream}>{self.topic}**"
        return f"#**{self.stream}**"


@dataclass(frozen=True)
class Settings:
    """Every key of the table (typed, defaults applied) plus the sources and [api]."""

    source_stream: str
    source_topic: str
    source_topic_pattern: str
    post_stream: str
    post_topic: str
    post_cron: str
    refresh_cron: str
    timezone: str
    intro_reaction: str
    debounce_minutes: int
    refresh_cooldown_minutes: int
    commands_per_minute: int
    consent_cooldown_minutes: int
    forget_departed_days: int
    embedding_model: str
    embedding_prefix: str
    embedding_max_tokens: int | None
    embedding_backend: str
    data_dir: Path
    web_mode: str
    web_host: str
    web_port: int
    public_url: str
    link_ttl_hours: int
    map_retention_days: int
    map_dir: Path
    pseudonymize: bool
    keep_names: tuple[str, ...]
    components: int
    neighbours_k: int
    keywords: str
    min_cluster_size: int | None
    random_state: int
    log_level: str
    metrics: bool
    log_format: str
    sources: tuple[Source, ...] = ()
    path: Path | None = None  # the zuliprc it came from
    api_email: str = ""
    api_site: str = ""
    api_key: str = field(default="", repr=False)  # secret: never shown

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        return f"Settings({shown}, api_key={'***' if self.api_key else ''!r})"

    @property
    def database(self) -> Path:
        return database_path(self.data_dir)

    def pipeline_params(self) -> PipelineParams:
        return PipelineParams(
            components=self.components,
            min_cluster_size=self.min_cluster_size,
            keywords=self.keywords,
            neighbours_k=self.neighbours_k,
            random_state=self.random_state,
        )

    def embedder_spec(self) -> EmbedderSpec:
        return EmbedderSpec(self.embedding_model or None, self.embedding_prefix, self.embedding_max_tokens,
                            self.embedding_backend)

    def embedder(self):
        """The embedder these settings name (the model is loaded on first use)."""
        return self.embedder_spec().load()

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        raise SettingsError(f"{self.path}: no source named {name!r}")

    def link_warning(self) -> str | None:
        """Why map links would open on this machine only: served on loopback, no public_url."""
        if self.web_mode != "serve" or self.public_url or not _is_loopback(self.web_host):
            return None
        return (f"public_url is unset and the map server listens on {self.web_host} only, so map links "
                f"(http://{self.web_host}:{self.web_port}/…) open on this machine alone. Set public_url "
                f"in [{SECTION}] to the address people reach the maps at (and web_host to listen there).")

    def check_runnable(self) -> None:
        """The bot needs a source stream and the [api] credentials; say all that is missing."""
        problems = Problems()
        if not self.source_stream:
            problems.add(f"{self.path}: [{SECTION}] source_stream is required to run the bot")
        missing = [key for key in API_KEYS if not getattr(self, f"api_{key}")]
        if missing:
            problems.add(f"{self.path}: [api] needs {', '.join(missing)} (the bot's zuliprc from Zulip)")
        problems.check()


def _is_loopback(host: str) -> bool:
    if host.strip().lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[] ")).is_loopback
    except ValueError:
        return False


def database_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / DB_FILENAME


def maps_dir(data_dir: str | Path, source: str) -> Path:
    return Path(data_dir) / "maps" / source


def render_example() -> str:
    """The text of ``zuliprc.example``, generated from the table."""
    lines = [
        "# batchviz configuration: the bot's zuliprc (download it from Zulip: Settings >",
        "# Personal settings > Bots) plus a [batchviz] section. Every key is optional",
        "# except source_stream; the values shown are the defaults.",
        "",
        "[api]",
        "email = batchviz-bot@example.zulipchat.com",
        "key = <the bot's API key>",
        "site = https://example.zulipchat.com",
        "",
        f"[{SECTION}]",
    ]
    for setting in SETTINGS:
        lines.append(f"# {setting.help}")
        value = "welcome" if setting.name == "source_stream" else setting.default
        prefix = "" if setting.name == "source_stream" else "# "
        lines.append(f"{prefix}{setting.name} = {value}".rstrip())
    lines += [
        "",
        "# More welcome topics, each mapped on its own: one section per source.",
        f"# [{SOURCE_SECTION}alumni]",
        "# stream = alumni",
        "# topic_pattern = ^intro",
        "",
    ]
    return "\n".join(lines)


def _source(path: Path, name: str, values: dict[str, Any], problems: Problems,
            prefix: str = "") -> Source | None:
    """The source a section describes, or None with its problems noted."""
    section = SECTION if prefix else f"{SOURCE_SECTION}{name}"  # main: source_* keys
    topic, pattern = values.get(prefix + "topic", ""), values.get(prefix + "topic_pattern", "")
    stream = values.get(prefix + "stream", "")
    found = [line for bad, line in [
        (not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", name),
         f"[{section}]: source names use letters, digits, - and _ only"),
        (topic and pattern, f"[{section}] set {prefix}topic or {prefix}topic_pattern, not both"),
        (not stream, f"[{section}] {prefix}stream is required"),
    ] if bad]
    for problem in found:
        problems.add(f"{path}: {problem}")
    return None if found else Source(name, stream, topic, pattern)


def _main_source(path: Path, values: dict[str, Any], problems: Problems) -> tuple[Source, ...]:
    source = _source(path, MAIN_SOURCE, values, problems, "source_") if values["source_stream"] else None
    return (source,) if source else ()


def _sources(path: Path, parser: configparser.ConfigParser, values: dict[str, Any],
             problems: Problems) -> tuple[Source, ...]:
    sources = list(_main_source(path, values, problems))
    for section in parser.sections():
        if section.startswith(SOURCE_SECTION):
            name = section[len(SOURCE_SECTION):].strip()
            raw = parse_section(path, section, dict(parser[section]), SOURCE_KEYS, problems)
            source = _source(path, name, raw, problems)
            sources += [source] if source else []
    names = [source.name for source in sources]
    for duplicate in sorted({name for name in names if names.count(name) > 1}):
        problems.add(f"{path}: more than one source named {duplicate!r}")
    return tuple(sources)


def _resolve(values: dict[str, Any], base: Path) -> dict[str, Any]:
    """Fill the defaults that depend on other keys; make folders absolute."""
    values = {setting.name: setting.parse(setting.default) for setting in SETTINGS} | values
    values["data_dir"] = base / Path(values["data_dir"]).expanduser()
    values["map_dir"] = base / Path(values["map_dir"]).expanduser() if values["map_dir"] else values["data_dir"] / "site"
    values["post_stream"] = values["post_stream"] or values["source_stream"]
    return values


def default_settings(base: str | Path = ".", **overrides: Any) -> Settings:
    """Settings without a file (the CLI and tests): the table's defaults plus overrides."""
    values, problems = _resolve(dict(overrides), Path(base).resolve()), Problems()
    sources = _main_source(Path("<defaults>"), values, problems)
    problems.check()
    return Settings(**values, sources=sources)


def load_settings(path: str | Path) -> Settings:
    """Read and validate ``[batchviz]`` (and the sources) of a zuliprc; every problem
    found is reported at once, in one SettingsError."""
    path, problems = Path(path), Problems()
    parser = read_file(path)
    raw = dict(parser[SECTION]) if parser.has_section(SECTION) else {}
    table = {setting.name: setting.parse for setting in SETTINGS}
    values = _resolve(parse_section(path, SECTION, raw, table, problems), path.resolve().parent)
    sources = _sources(path, parser, values, problems)
    problems.check()
    api = dict(parser["api"]) if parser.has_section("api") else {}
    return Settings(
        **values,
        sources=sources,
        path=path,
        api_email=api.get("email", "").strip(),
        api_site=api.get("site", "").strip(),
        api_key=api.get("key", "").strip(),
    )

