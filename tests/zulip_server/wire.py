"""HTTP: parse a request, apply faults, authenticate, check it, dispatch, answer."""

from __future__ import annotations

import base64
import json
import socket
import urllib.parse
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler

from .api_messages import HANDLERS as MESSAGE_HANDLERS
from .api_realm import HANDLERS as REALM_HANDLERS
from .realm import User

API_PREFIX = "/api/v1"
HANDLERS = {**MESSAGE_HANDLERS, **REALM_HANDLERS}
NO_AUTH = {"GET /server_settings"}


@dataclass
class Request:
    """One parsed API request as the endpoint handlers see it."""

    method: str
    path: str  # relative to /api/v1
    raw: dict[str, str]  # query string and form fields, as text
    files: list[tuple[str, bytes, str]] = field(default_factory=list)
    user: User | None = None
    path_args: dict[str, str] = field(default_factory=dict)
    params: dict = field(default_factory=dict)


class ZulipRequestHandler(BaseHTTPRequestHandler):
    """Serves /api/v1/... and /user_uploads/...; ``self.server.zulip`` is the ZulipTestServer."""

    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        zulip = self.server.zulip
        url = urllib.parse.urlsplit(self.path)
        if url.path.startswith("/user_uploads/") and method == "GET":
            return self._serve_upload(url.path)
        if not url.path.startswith(API_PREFIX + "/"):
            return self._send(404, {"result": "error", "msg": "Not found", "code": "BAD_REQUEST"})
        req = Request(method, url.path[len(API_PREFIX):], dict(urllib.parse.parse_qsl(url.query)))
        self._read_body(req)
        fault = zulip.faults.take(req.path)
        status, body = zulip.dispatch(req, self.headers.get("Authorization"), fault)
        if body is None or zulip.stopping.is_set():
            return self._drop()
        self._send(status, body, retry_after=fault.retry_after if fault and fault.kind == "rate_limit" else None)

    def _read_body(self, req: Request) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            self._read_multipart(req, content_type, data)
        elif data:
            req.raw.update(urllib.parse.parse_qsl(data.decode("utf-8"), keep_blank_values=True))

    @staticmethod
    def _read_multipart(req: Request, content_type: str, data: bytes) -> None:
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + data)
        for part in message.iter_parts():
            filename = part.get_filename()
            payload = part.get_payload(decode=True) or b""
            if filename is not None:
                req.files.append((filename, payload, part.get_content_type()))
            else:
                req.raw[part.get_param("name", header="content-disposition")] = payload.decode("utf-8")

    def _serve_upload(self, path: str) -> None:
        self.server.zulip.record("GET", "/user_uploads/…", {}, None)
        upload = self.server.zulip.realm.uploads.get(urllib.parse.unquote(path))
        if upload is None:
            return self._send(404, {"result": "error", "msg": "File not found", "code": "BAD_REQUEST"})
        self._write(200, upload.data, upload.content_type)

    def _send(self, status: int, body: dict, retry_after: float | None = None) -> None:
        extra = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        self._write(status, json.dumps(body).encode(), "application/json", extra)

    def _write(self, status: int, data: bytes, content_type: str, headers: dict | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a late answer)
            self.close_connection = True

    def _drop(self) -> None:
        """Close the connection without answering (the client sees a reset/disconnect)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    """``Basic base64(email:key)`` → (email, key); None when absent or malformed."""
    if not header or not header.startswith("Basic "):
        return None
    try:
        email, _, key = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except ValueError:
        return None
    return email, key
