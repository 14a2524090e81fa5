"""Whether `public_url` reaches this machine's map server, probed from this machine.

`batchviz check` runs before the bot: it listens on `web_host:web_port` for a moment
with a stand-in that answers `/healthz` with this process's instance id, then fetches
`<public_url>/healthz`; only an answer carrying that id proves that the address people
open leads here (through the reverse proxy, if any). When the port is taken (the bot is
running) any batchviz `/healthz` answer will do. `batchviz run` probes its own map
server once it is up.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import logging

import requests

from bot.findings import Finding, ok, problem, warning
from bot.health import INSTANCE, SERVICE

log = logging.getLogger(__name__)
PROBE_SECONDS = 5.0
AREA = "public_url"


def check_public_url(settings) -> list[Finding]:
    if settings.web_mode != "serve":
        return [ok(AREA, f"web_mode = {settings.web_mode}: no map server to reach")]
    if not settings.public_url:
        advice = settings.link_warning()
        return [warning(AREA, advice) if advice else ok(AREA, "unset: links use the map server's own address")]
    if settings.web_port == 0:
        return [warning(AREA, "web_port = 0 picks a new port at each start, which no reverse proxy "
                        "behind public_url can follow: set web_port")]
    with _stand_in(settings.web_host, settings.web_port) as instance:
        return [probe(settings.public_url, instance, f"{settings.web_host}:{settings.web_port}")]


def probe(public_url: str, instance: str | None, upstream: str) -> Finding:
    """Fetch `<public_url>/healthz`; ok when it comes from `instance` (None: any batchviz)."""
    url = public_url.rstrip("/") + "/healthz"
    try:
        response = requests.get(url, timeout=PROBE_SECONDS)
        body = response.json()
    except requests.RequestException as exc:
        return problem(AREA, f"{url} cannot be reached from this machine ({type(exc).__name__}): check "
                       "DNS, the firewall and the reverse proxy (some networks cannot reach their own "
                       "public address from inside; then check from outside)")
    except ValueError:
        body = {}
    if not isinstance(body, dict) or body.get("service") != SERVICE:
        return problem(AREA, f"{url} answers (HTTP {response.status_code}) but not from batchviz: point the "
                       f"reverse proxy at http://{upstream}")
    if instance is not None and body.get("instance") != instance:
        return problem(AREA, f"{url} reaches another batchviz, not the one listening on {upstream}")
    return ok(AREA, f"{url} reaches this map server")


def probe_running(settings) -> None:
    """At `run`, once the map server is up: log a warning if public_url does not lead to it."""
    if settings.web_mode == "serve" and settings.public_url:
        found = probe(settings.public_url, INSTANCE, f"{settings.web_host}:{settings.web_port}")
        if found.level != "ok":
            log.warning("check: %s: %s", found.area, found.message)


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        found = self.path.split("?", 1)[0].endswith("/healthz")
        body = json.dumps({"service": SERVICE, "instance": INSTANCE, "status": "check"}).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) if found else 0))
        self.end_headers()
        if found:
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


@contextmanager
def _stand_in(host: str, port: int):
    """This process's instance id while a stand-in answers on host:port; None if the
    port is taken."""
    try:
        server = ThreadingHTTPServer((host, port), _Answer)
    except OSError:
        yield None
        return
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield INSTANCE
    finally:
        server.shutdown()
        server.server_close()
