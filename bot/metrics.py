"""Prometheus metrics, served at the map server's `/metrics` when `metrics = true`.

Counted always (a few integer additions), shown only when asked for: the commands
answered and how long each took, map build durations and results, the Zulip calls tried
again and the rate limits (HTTP 429) met. Labels take a handful of fixed values (command
names from the command table, a result word, a retry reason): never a name or a text.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

REGISTRY = CollectorRegistry()
COMMANDS = Counter("batchviz_commands", "Commands answered, by command", ["command"], registry=REGISTRY)
COMMAND_SECONDS = Histogram("batchviz_command_seconds", "Time to work out a command's answer",
                            ["command"], registry=REGISTRY)
BUILD_SECONDS = Histogram("batchviz_build_seconds", "Map build durations, by result", ["result"],
                          buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600), registry=REGISTRY)
ZULIP_RETRIES = Counter("batchviz_zulip_retries", "Zulip calls tried again, by reason", ["reason"], registry=REGISTRY)
RATE_LIMITED = Counter("batchviz_zulip_rate_limited", "HTTP 429 answers from Zulip", registry=REGISTRY)


@contextmanager
def command(name: str):
    started = time.perf_counter()
    try:
        yield
    finally:
        COMMANDS.labels(name).inc()
        COMMAND_SECONDS.labels(name).observe(time.perf_counter() - started)


def build_done(seconds: float, result: str) -> None:
    BUILD_SECONDS.labels(result).observe(seconds)


def zulip_retry(failure: str) -> None:
    """One retry; `failure` as `ZulipIO` words it ("rate limited", "connection: …", "HTTP 502")."""
    if failure == "rate limited":
        RATE_LIMITED.inc()
        reason = "rate_limited"
    else:
        reason = "connection" if failure.startswith("connection") else "server_error"
    ZULIP_RETRIES.labels(reason).inc()


def exposition() -> tuple[bytes, str]:
    """The `/metrics` body and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
