"""waitress, the maintained WSGI server the map server runs on, with the limits it lacks.

waitress reads each request whole on its event loop before a worker thread sees it, caps
the headers (`max_request_header_size`) and closes a connection idle for
`channel_timeout`. It has no deadline for a whole request: a client that trickles a
header byte every few seconds keeps its connection for as long as it likes (slowloris).
`LimitedServer` adds one (`request_deadline`, each connection serving one request), a 503
beyond `max_connections` instead of waitress's silent stop of accepting, and the given
`headers` on waitress's own error answers (400, 413, 431 …).
"""

from __future__ import annotations

import logging
import socket
import time
from collections import deque

from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, WSGITask

log = logging.getLogger(__name__)

MAX_REFUSED = 1024  # 503s awaiting their close
CHUNK = 64 * 1024


class _ErrorTask(ErrorTask):
    """waitress's own error answers (400, 413, 431 …) carry our headers too."""

    def execute(self) -> None:
        self.response_headers.extend(self.channel.server.headers.items())
        super().execute()


class _OneRequestTask(WSGITask):
    """Each connection serves one request (``Connection: close``): the deadline of a
    connection is then the deadline of its request."""

    def execute(self) -> None:
        self.set_close_on_finish()
        super().execute()


class _Channel(HTTPChannel):
    task_class = _OneRequestTask
    error_task_class = _ErrorTask


class LimitedServer(TcpWSGIServer):
    """waitress with a whole-request deadline and a 503 beyond the connection cap."""

    channel_class = _Channel

    def __init__(self, app, headers: dict[str, str], request_deadline: float, max_connections: int,
                 **adjustments):
        """`adjustments`: waitress's own (host, port, threads, channel_timeout …); its
        connection limit is left out of the way of `max_connections`."""
        self.headers = headers  # sent with every answer of the server's own
        self.request_deadline = request_deadline
        self.max_connections = max_connections
        super().__init__(app, connection_limit=2**31, cleanup_interval=1, **adjustments)
        self._refused: deque[tuple[float, socket.socket]] = deque()  # 503 sent, closed a moment later

    def maintenance(self, now: float) -> None:
        """Besides waitress's idle timeout: close every connection still sending its
        request `request_deadline` seconds after it opened (one request per connection)."""
        super().maintenance(now)
        while self._refused and (self._refused[0][0] < now - 1 or len(self._refused) > MAX_REFUSED):
            _close_quietly(self._refused.popleft()[1])
        cutoff = now - self.request_deadline
        for channel in list(self.active_channels.values()):
            if not channel.requests and not channel.total_outbufs_len and channel.creation_time < cutoff:
                channel.will_close = True

    def readable(self) -> bool:
        super().readable()  # runs `maintenance`; the cap is ours (handle_accept)
        return self.accepting

    def handle_accept(self) -> None:
        if len(self.active_channels) < self.max_connections:
            super().handle_accept()
            return
        try:
            accepted = self.accept()
        except OSError:
            return
        if accepted is not None:
            log.warning("Map server busy (every connection slot taken); refusing one")
            _refuse_busy(accepted[0], self.headers)
            # closed at the next maintenance, not now: closing with the request unread would
            # reset the connection, and the client could lose the 503 before reading it
            self._refused.append((time.time(), accepted[0]))


def _refuse_busy(request: socket.socket, headers: dict[str, str]) -> None:
    """A 503 with the headers, sent without waiting (it fits in the socket's buffer)."""
    body = b"The map server is busy; try again in a minute.\n"
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    try:
        request.setblocking(False)
        request.send(f"HTTP/1.0 503 Service Unavailable\r\n{head}Content-Type: text/plain; charset=utf-8\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        request.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _close_quietly(sock: socket.socket) -> None:
    try:
        while sock.recv(CHUNK):  # read what the client sent, so that closing resets nothing
            pass
    except OSError:
        pass
    sock.close()
