"""The map web server and the links to it.

Maps are served at `/map/<source>/<snapshot_id>?exp=<unix>&sig=<hmac>`. A URL path is
never mapped to the filesystem: the (source, snapshot id) pair is checked against the
signature and then handed to a `lookup` callable that knows where that build's HTML
is. Unknown → 404, forged → 403, expired link or map → 410; every answer, errors and
HEAD included, carries the same strict headers.

Against exhaustion: every socket read and write times out (`timeout`), at most
`max_connections` are handled at once (one more gets a 503 and is closed), files are
streamed, and each connection serves one request.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, quote, unquote, urlsplit

from bot.signing import Signer, Verdict

log = logging.getLogger(__name__)

Lookup = Callable[[str, int], "Path | None"]  # (source, snapshot id) -> that map's HTML file

_MAP_PATH = re.compile(r"/map/([^/]{1,200})/([0-9]{1,18})")
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


TIMEOUT_SECONDS = 10.0
MAX_CONNECTIONS = 256
CHUNK = 64 * 1024


class _Handler(BaseHTTPRequestHandler):
    server: "MapServer"
    server_version = "batchviz"
    sys_version = ""
    default_request_version = "HTTP/1.0"  # never answer HTTP/0.9-style, without headers

    def setup(self) -> None:
        self.timeout = self.server.timeout_seconds  # every recv and send on this socket
        super().setup()

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._respond(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._respond(body=False)

    def _respond(self, body: bool) -> None:
        status, payload, kind = self.server.answer(self.path)
        if isinstance(payload, Path):
            try:
                handle = payload.open("rb")
            except OSError:  # pruned between the check and now
                status, payload, kind = _plain(HTTPStatus.GONE, EXPIRED_MAP)
        if isinstance(payload, Path):
            with handle:
                self._head(status, kind, os.fstat(handle.fileno()).st_size)
                if body:
                    shutil.copyfileobj(handle, self.wfile, CHUNK)
            return
        self._head(status, kind, len(payload))
        if body:
            self.wfile.write(payload)

    def _head(self, status: int, kind: str, length: int) -> None:
        self.send_response(status)
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(length))
        self.send_header("Connection", "close")
        self.end_headers()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (400, 414, 501 …) with our headers and a plain body."""
        self.close_connection = True
        status, payload, kind = _plain(code, message or HTTPStatus(code).phrase)
        self._head(status, kind, len(payload))
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        # The query string is a capability: log the path only.
        log.debug("map server: %s %s", getattr(self, "command", None), urlsplit(getattr(self, "path", "")).path)


class MapServer(ThreadingHTTPServer):
    """A small threaded HTTP server for signed map links (port 0 picks a free port)."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, host: str, port: int, signer: Signer, lookup: Lookup,
                 timeout_seconds: float = TIMEOUT_SECONDS, max_connections: int = MAX_CONNECTIONS):
        super().__init__((host, port), _Handler)
        self.signer = signer
        self.lookup = lookup
        self.timeout_seconds = timeout_seconds
        self._slots = threading.BoundedSemaphore(max_connections)
        self._thread: threading.Thread | None = None

    def process_request(self, request, client_address) -> None:
        """A thread per connection while there are slots; else a 503, and close."""
        if not self._slots.acquire(blocking=False):
            log.warning("Map server busy (every connection slot taken); refusing one")
            _refuse_busy(request)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "MapServer":
        self._thread = threading.Thread(target=self.serve_forever, args=(0.1,), name="map-server", daemon=True)
        self._thread.start()
        log.info("Map server listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def answer(self, raw_path: str) -> tuple[int, "bytes | Path", str]:
        """(status, body or file to stream, content type) for a request path; the one
        routing decision."""
        parts = urlsplit(raw_path)
        match = _MAP_PATH.fullmatch(parts.path)
        query = parse_qs(parts.query)
        if not match or len(query.get("exp", [])) != 1 or len(query.get("sig", [])) != 1:
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


def _plain(status: int, message: str) -> tuple[int, bytes, str]:
    return status, (message + "\n").encode(), "text/plain; charset=utf-8"


def _refuse_busy(request) -> None:
    body = b"The map server is busy; try again in a minute.\n"
    head = "".join(f"{k}: {v}\r\n" for k, v in SECURITY_HEADERS.items())
    try:
        request.settimeout(1.0)
        request.sendall(f"HTTP/1.0 503 Service Unavailable\r\n{head}Content-Type: text/plain; charset=utf-8\r\n"
                        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    except OSError:
        pass


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
        if not target.exists():
            temporary = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(html, temporary)
            temporary.replace(target)
        return f"{self.public_url}/{target.name}" if self.public_url else str(target)
