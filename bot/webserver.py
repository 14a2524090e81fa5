"""The map web server and the links to it.

Maps are served at `/map/<source>/<snapshot_id>?exp=<unix>&sig=<hmac>`. A URL path is
never mapped to the filesystem: the (source, snapshot id) pair is checked against the
signature and then handed to a `lookup` callable that knows where that build's HTML
is. Unknown → 404, forged → 403, expired link or map → 410; every answer, errors and
HEAD included, carries the same strict headers. `MapServer.routes` is the one table of
paths and their handlers.

The server is waitress, a maintained production WSGI server, with the limits it lacks
added in `bot.wsgi_limits`. Against exhaustion: it
reads each request whole on its event loop before a worker thread sees it, so a slow
client holds a socket, never a thread; headers are capped (`MAX_HEADER_BYTES`) and
bodies refused; a connection idle for `timeout_seconds` is closed, and so is one that has
not sent its whole request within `request_deadline` seconds, however slowly it trickles
(slowloris); at most `max_connections` are open at once (one more gets a 503 and is
closed); files are streamed, and each connection serves one request.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import uuid
from http import HTTPStatus
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, quote, unquote, urlsplit

from bot.signing import Signer, Verdict
from bot.wsgi_limits import CHUNK, LimitedServer

log = logging.getLogger(__name__)

Lookup = Callable[[str, int], "Path | None"]  # (source, snapshot id) -> that map's HTML file
Answer = tuple[int, "bytes | Path", str]  # (status, body or file to stream, content type)
Health = Callable[[], dict]  # the `/healthz` report (bot.health)
Metrics = Callable[[], "tuple[bytes, str]"]  # the `/metrics` body and type (bot.metrics), when enabled

_MAP_PATH = re.compile(r"/map/([^/]{1,200})/([0-9]{1,18})")
_HEALTHZ = re.compile(r"/healthz")
_METRICS = re.compile(r"/metrics")
# Plotly's self-contained page runs inline scripts; its WebGL traces (3-D maps) need eval.
CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
       "img-src data: blob:; font-src data:; worker-src blob:; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-store",
    "X-Frame-Options": "DENY",
}
EXPIRED_MAP = "This map has expired. Ask the bot for the latest one: `map`."
REFUSALS = {
    Verdict.FORGED: (HTTPStatus.FORBIDDEN, "This map link is not valid."),
    Verdict.EXPIRED: (HTTPStatus.GONE, "This map link has expired. Ask the bot for a fresh one: `map`."),
}

TIMEOUT_SECONDS = 10  # a connection idle this long is closed
REQUEST_DEADLINE = 10.0  # seconds for a whole request to arrive
MAX_CONNECTIONS = 256
MAX_HEADER_BYTES = 16 * 1024
THREADS = 4


class MapServer:
    """The map server on waitress, in a thread of its own (port 0 picks a free port)."""

    def __init__(self, host: str, port: int, signer: Signer, lookup: Lookup,
                 timeout_seconds: float = TIMEOUT_SECONDS, max_connections: int = MAX_CONNECTIONS,
                 request_deadline: float = REQUEST_DEADLINE, health: Health | None = None,
                 metrics: Metrics | None = None):
        self.signer = signer
        self.lookup = lookup
        self.routes: tuple[tuple[re.Pattern, Callable[[re.Match, dict], Answer]], ...] = (
            (_MAP_PATH, self._map_page),
            *([(_HEALTHZ, lambda _match, _query: _health(health()))] if health else []),
            *([(_METRICS, lambda _match, _query: (HTTPStatus.OK, *metrics()))] if metrics else []),
        )
        self._server = LimitedServer(
            self._app, SECURITY_HEADERS, request_deadline, max_connections, host=host, port=port,
            threads=THREADS, ident="batchviz", channel_timeout=max(1, round(timeout_seconds)),
            max_request_header_size=MAX_HEADER_BYTES, max_request_body_size=0, expose_tracebacks=False)
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def server_address(self) -> tuple[str, int]:
        return self._server.effective_host, self._server.effective_port

    @property
    def base_url(self) -> str:
        host, port = self.server_address
        return f"http://{host}:{port}"

    def start(self) -> "MapServer":
        self._thread = threading.Thread(target=self._run, name="map-server", daemon=True)
        self._thread.start()
        log.info("Map server listening on %s", self.base_url)
        return self

    def _run(self) -> None:
        try:
            self._server.run()
        except Exception:  # sockets closed under the loop while stopping
            if not self._stopping:
                raise

    def stop(self) -> None:
        """Close every connection and the listening socket; the loop then ends."""
        self._stopping = True
        for channel in list(self._server._map.values()):
            if channel is not self._server:
                channel.close()
        self._server.close()
        self._server.task_dispatcher.shutdown()
        if self._thread:
            self._thread.join(timeout=5)

    def _app(self, environ: dict, start_response) -> list[bytes]:
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            status, payload, kind = _plain(HTTPStatus.NOT_IMPLEMENTED, "Unsupported method.")
        else:
            status, payload, kind = self.answer(environ.get("REQUEST_URI", "/"))
        handle = None
        if isinstance(payload, Path):
            try:
                handle = payload.open("rb")
            except OSError:  # pruned between the check and now
                status, payload, kind = _plain(HTTPStatus.GONE, EXPIRED_MAP)
        length = Path(handle.name).stat().st_size if handle else len(payload)
        start_response(f"{int(status)} {HTTPStatus(status).phrase}", [
            *SECURITY_HEADERS.items(), ("Content-Type", kind), ("Content-Length", str(length))])
        if handle is not None:
            return environ["wsgi.file_wrapper"](handle, CHUNK)
        return [payload]

    def answer(self, raw_path: str) -> Answer:
        """(status, body or file to stream, content type) for a request path: the one
        routing decision, by `routes`."""
        parts = urlsplit(raw_path)
        for pattern, handler in self.routes:
            match = pattern.fullmatch(parts.path)
            if match:
                return handler(match, parse_qs(parts.query))
        return _plain(HTTPStatus.NOT_FOUND, "Not found.")

    def _map_page(self, match: re.Match, query: dict) -> Answer:
        if len(query.get("exp", [])) != 1 or len(query.get("sig", [])) != 1:
            return _plain(HTTPStatus.NOT_FOUND, "Not found.")
        source, snapshot_id = unquote(match.group(1)), int(match.group(2))
        try:
            expires = int(query["exp"][0])
        except ValueError:
            return _plain(HTTPStatus.FORBIDDEN, REFUSALS[Verdict.FORGED][1])
        verdict = self.signer.check(source, snapshot_id, expires, query["sig"][0])
        if verdict in REFUSALS:
            return _plain(*REFUSALS[verdict])
        path = self.lookup(source, snapshot_id)
        if path is None or not Path(path).is_file():  # pruned, or someone on it opted out
            return _plain(HTTPStatus.GONE, EXPIRED_MAP)
        return HTTPStatus.OK, Path(path), "text/html; charset=utf-8"


def _health(report: dict) -> Answer:
    """200 when the bot is healthy, 503 when not: what a load balancer or a monitor reads."""
    status = HTTPStatus.OK if report.get("status") == "ok" else HTTPStatus.SERVICE_UNAVAILABLE
    return status, (json.dumps(report) + "\n").encode(), "application/json"


def _plain(status: int, message: str) -> tuple[int, bytes, str]:
    return status, (message + "\n").encode(), "text/plain; charset=utf-8"


class MapLinks:
    """Mints the link people get for a map, according to `web_mode`.

    serve: a signed, expiring URL under `public_url`, or when that is unset under the
    map server's own `server_url`; dir: the HTML copied into `map_dir`, linked under
    `public_url` (or as a file path when unset); off: no link (None). This is the one
    place an unset `public_url` is given a meaning.
    """

    def __init__(self, mode: str, signer: Signer | None, lookup: Lookup, ttl_hours: float,
                 public_url: str = "", map_dir: Path | None = None, server_url: str = ""):
        self.mode = mode
        self.signer = signer
        self.lookup = lookup
        self.ttl_seconds = ttl_hours * 3600
        self.public_url = public_url.rstrip("/")
        self.map_dir = map_dir
        self.server_url = server_url.rstrip("/")

    def mint_url(self, source: str, snapshot_id: int) -> str | None:
        if self.mode == "serve" and self.signer is not None:
            expires, signature = self.signer.sign(source, snapshot_id, self.ttl_seconds)
            return (f"{self.public_url or self.server_url}/map/{quote(source, safe='')}/"
                    f"{int(snapshot_id)}?exp={expires}&sig={signature}")
        if self.mode == "dir" and self.map_dir is not None:
            return self._publish(source, snapshot_id)
        return None

    def prune(self, source: str, maps_folder: Path) -> None:
        """In dir mode, delete the published copies of the source's maps whose own file
        in `maps_folder` is gone (retention, opt-out)."""
        if self.mode != "dir" or self.map_dir is None or not self.map_dir.is_dir():
            return
        prefix = f"{quote(source, safe='')}-"
        for old in self.map_dir.glob(f"{prefix}*.html"):
            if not (Path(maps_folder) / old.name[len(prefix):]).is_file():
                old.unlink(missing_ok=True)

    def _publish(self, source: str, snapshot_id: int) -> str | None:
        """Copy the map under its unguessable file name; copies of the source's maps
        that may no longer be served (retention, opt-out) are deleted."""
        html = self.lookup(source, snapshot_id)
        if html is None or not Path(html).is_file():
            return None
        self.map_dir.mkdir(parents=True, exist_ok=True)
        self.prune(source, Path(html).parent)
        target = self.map_dir / f"{quote(source, safe='')}-{Path(html).name}"
        if not target.exists():  # a temporary name of its own: two `map` commands may publish at once
            temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            shutil.copyfile(html, temporary)
            temporary.replace(target)
        return f"{self.public_url}/{target.name}" if self.public_url else str(target)
