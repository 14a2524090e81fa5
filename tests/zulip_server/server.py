"""ZulipTestServer: a Zulip-compatible API server on loopback for tests.

It runs in a background thread (``http.server.ThreadingHTTPServer``), keeps the realm
in memory, checks every request and response against the OpenAPI spec (violations are
collected in ``spec_violations``), and can be told to fail.
"""

from __future__ import annotations

import collections
import configparser
import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Callable

from .actions import Actions
from .events import EventQueues
from .faults import Fault, Faults
from .realm import ROLE_GUEST, ROLE_MEMBER, ApiError, Message, Realm, Stream, Upload, User
from .spec import Spec, load_spec
from .wire import HANDLERS, NO_AUTH, Request, ZulipRequestHandler, parse_basic_auth

ZULIP_VERSION = "8.0-dev"
FEATURE_LEVEL = 218


@dataclass
class LoggedRequest:
    method: str
    endpoint: str  # "GET /messages" (spec template) or the raw path when unknown
    params: dict
    user: str | None
    status: int | None = None
    at: float = field(default_factory=time.monotonic)  # when the request arrived


class ZulipTestServer:
    """A realm, its event queues, an HTTP front end, a spec checker and a fault injector."""

    def __init__(self, spec: Spec | None = None, poll_timeout: float = 10.0, host: str = "127.0.0.1"):
        self.spec = spec or load_spec()
        self.realm = Realm()
        self.queues = EventQueues(poll_timeout)
        self.actions = Actions(self.realm, self.queues)
        self.faults = Faults()
        self.spec_violations: list[str] = []
        self.request_log: list[LoggedRequest] = []
        self.request_counts: collections.Counter[str] = collections.Counter()
        self.stopping = threading.Event()
        self.host, self.port = host, 0
        self._httpd: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> "ZulipTestServer":
        """Listen (again) on the same port; the first start picks a free one."""
        self.stopping.clear()
        self._httpd = ThreadingHTTPServer((self.host, self.port), ZulipRequestHandler)
        self._httpd.daemon_threads = True
        self._httpd.zulip = self
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open long-polls; state is kept for a later ``start()``."""
        if self._httpd is None:
            return
        self.stopping.set()
        with self.queues.changed:
            self.queues.changed.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def poll_timeout(self) -> float:
        return self.queues.poll_timeout

    @poll_timeout.setter
    def poll_timeout(self, seconds: float) -> None:
        self.queues.poll_timeout = seconds

    def version_fields(self) -> dict:
        return {"zulip_version": ZULIP_VERSION, "zulip_feature_level": FEATURE_LEVEL,
                "zulip_merge_base": ZULIP_VERSION}

    # -- realm helpers for tests ------------------------------------------------
    def add_user(self, full_name: str, email: str | None = None, is_bot: bool = False,
                 guest: bool = False) -> User:
        """A new user; `email` is their sign-in address (the API shows a placeholder)."""
        email = email or f"{''.join(c for c in full_name.lower() if c.isalnum()) or 'user'}@zulip.test"
        return self.realm.add_user(email, full_name, is_bot, role=ROLE_GUEST if guest else ROLE_MEMBER)

    def add_stream(self, name: str, invite_only: bool = False, subscribers=()) -> Stream:
        return self.realm.add_stream(name, invite_only, subscribers)

    def subscribe(self, user, stream) -> None:
        """Subscribe ``user``; their queues that asked for it get a ``subscription`` event."""
        from .api_realm import subscription_object

        found = self.realm.stream(stream)
        self.actions.subscribe(user, found, subscription_object(found, with_subscribers=False))

    def unsubscribe(self, user, stream) -> None:
        self.actions.unsubscribe(user, stream)

    def deactivate_user(self, user) -> None:
        self.actions.deactivate(user)

    def reactivate_user(self, user) -> None:
        self.actions.reactivate(user)

    def send_stream_message(self, sender, stream, topic: str, content: str) -> int:
        return self.actions.send_stream_message(sender, stream, topic, content).id

    def send_dm(self, sender, to_user, content: str) -> int:
        return self.actions.send_dm(sender, to_user, content).id

    def edit_message(self, message_id: int, content=None, topic=None, stream=None, propagate_mode="change_one"):
        self.actions.edit_message(message_id, content, topic, stream, propagate_mode=propagate_mode)

    def delete_message(self, message_id: int) -> None:
        self.actions.delete_message(message_id)

    def expire_queues(self, then: Callable[[], object] | None = None) -> None:
        """Every queue is gone: the next GET /events answers BAD_EVENT_QUEUE_ID.
        ``then`` runs before any waiting long-poll wakes up (e.g. a message sent in the gap)."""
        with self.queues.changed:
            self.queues.expire_all()
            if then is not None:
                then()

    def messages_sent_by(self, user) -> list[Message]:
        with self.realm.lock:  # the server's threads add messages meanwhile
            user_id = self.realm.user(user).user_id
            return sorted((m for m in self.realm.messages.values() if m.sender_id == user_id), key=lambda m: m.id)

    @property
    def uploads(self) -> dict[str, Upload]:
        return self.realm.uploads

    def add_upload(self, path: str, filename: str, data: bytes, content_type: str, owner_id: int) -> None:
        self.realm.uploads[path] = Upload(path, filename, data, content_type, owner_id)

    def zuliprc(self, folder, user, extra: str = "") -> Path:
        """Write a zuliprc for ``user`` into ``folder``; ``extra`` is appended verbatim."""
        user = self.realm.user(user)
        config = configparser.ConfigParser()
        config["api"] = {"email": user.delivery_email, "key": user.api_key, "site": self.base_url}
        path = Path(folder) / f"zuliprc-{user.user_id}"
        with open(path, "w", encoding="utf-8") as handle:
            config.write(handle)
            handle.write(extra)
        return path

    def client(self, user, **kwargs):
        """A real ``zulip.Client`` for ``user`` talking to this server."""
        import zulip

        user = self.realm.user(user)
        return zulip.Client(email=user.delivery_email, api_key=user.api_key, site=self.base_url, **kwargs)

    # -- faults -----------------------------------------------------------------
    def fail_next(self, n: int = 1, status: int = 500, path_prefix: str | None = None) -> None:
        self.faults.add(Fault("status", n, status=status, path_prefix=path_prefix))

    def rate_limit_next(self, n: int = 1, retry_after: float = 1.0, path_prefix: str | None = None) -> None:
        self.faults.add(Fault("rate_limit", n, retry_after=retry_after, path_prefix=path_prefix))

    def lose_answer_next(self, n: int = 1, path_prefix: str | None = None, status: int | None = None) -> None:
        """Carry out the next `n` matching requests, then lose their answers: the connection
        drops (status None) or a gateway error comes back instead (e.g. 502)."""
        self.faults.add(Fault("lost", n, status=status, path_prefix=path_prefix))

    def answer_late_next(self, n: int = 1, after: float = 1.0, path_prefix: str | None = None) -> None:
        """Carry out the next `n` matching requests at once, but answer each `after` seconds
        late: a busy server, as the real one under load (the client's timeout may pass first)."""
        self.faults.add(Fault("late", n, path_prefix=path_prefix, delay=after))

    def drop_next(self, n: int = 1, path_prefix: str | None = None, after: float = 0.0) -> None:
        """Close the next ``n`` connections unanswered, ``after`` seconds in (a cut long-poll)."""
        self.faults.add(Fault("drop", n, path_prefix=path_prefix, delay=after))

    def count(self, endpoint: str) -> int:
        """Requests so far to ``endpoint``, e.g. ``count("GET /events")``."""
        return self.request_counts[endpoint]

    # -- request processing (called from the HTTP handler threads) --------------
    def record(self, method: str, endpoint: str, params: dict, user: str | None) -> LoggedRequest:
        entry = LoggedRequest(method, endpoint, params, user)
        with self._lock:
            self.request_log.append(entry)
            self.request_counts[endpoint] += 1
        return entry

    def take_violations(self) -> list[str]:
        """Return the recorded spec violations and forget them."""
        with self._lock:
            taken, self.spec_violations[:] = list(self.spec_violations), []
            return taken

    def violation(self, text: str) -> None:
        with self._lock:
            self.spec_violations.append(text)

    def dispatch(self, req: Request, authorization: str | None, fault: Fault | None = None) -> tuple[int, dict | None]:
        """Answer one API request: (HTTP status, JSON body); a None body means drop the connection."""
        matched = self.spec.match(req.method, req.path)
        credentials = parse_basic_auth(authorization)
        entry = self.record(req.method, matched[0].key if matched else f"{req.method} {req.path}",
                            dict(req.raw), credentials[0] if credentials else None)
        if fault is not None and fault.kind == "lost":  # done, but the answer never arrives
            self._answer(req, matched, credentials)
            entry.status = fault.status
            return fault.status, None if fault.status is None else fault.body()
        if fault is not None and fault.kind == "late":  # done at once, answered late
            entry.status, body = self._answer(req, matched, credentials)
            time.sleep(fault.delay)
            return entry.status, body
        if fault is not None:
            time.sleep(fault.delay)
            entry.status = 429 if fault.kind == "rate_limit" else fault.status if fault.kind == "status" else None
            return entry.status, fault.body()
        status, body = self._answer(req, matched, credentials)
        entry.status = status
        if matched:
            for problem in matched[0].check_response(status, body):
                self.violation(f"server bug: {problem}")
        return status, body

    def _answer(self, req: Request, matched, credentials) -> tuple[int, dict]:
        if matched is None:
            self.violation(f"{req.method} {req.path}: no such endpoint in the spec")
            return 404, {"result": "error", "msg": "Endpoint not found", "code": "BAD_REQUEST"}
        operation, req.path_args = matched
        req.user = self.realm.authenticate(*credentials) if credentials else None
        if req.user is None and operation.key not in NO_AUTH:
            return 401, {"result": "error", "msg": "Invalid API key", "code": "INVALID_API_KEY"}
        raw = {**req.raw, **req.path_args}
        for problem in operation.check_request(raw):
            self.violation(problem)
        handler = HANDLERS.get(operation.key)
        if handler is None:
            self.violation(f"{operation.key}: not implemented by the test server")
            return 400, {"result": "error", "msg": "Not implemented in the test server", "code": "BAD_REQUEST"}
        missing = [name for name, param in operation.params.items() if param.required and name not in raw]
        if missing:
            return 400, ApiError(f"Missing '{missing[0]}' argument", "REQUEST_VARIABLE_MISSING",
                                 var_name=missing[0]).body()
        req.params = operation.decode(raw)
        try:
            body = handler(self, req)
        except ApiError as error:
            return error.status, error.body()
        except Exception as error:  # a bug of the test server: make the test fail, keep serving
            self.violation(f"server bug: {operation.key} raised {error!r}")
            return 500, {"result": "error", "msg": "Internal server error", "code": "BAD_REQUEST"}
        ignored = sorted(name for name in req.raw if name not in operation.params)
        extra = {"ignored_parameters_unsupported": ignored} if ignored else {}
        return 200, {"result": "success", "msg": "", **extra, **body}
