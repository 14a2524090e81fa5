"""The Zulip client wrapper: connect, retry 5xx and dropped connections, honour 429.

`zulip` 0.9.1 retries 5xx itself with a fixed one-second sleep and knows nothing of
HTTP 429, so the client is built with `retry_on_errors=False` and every call goes
through `ZulipIO._with_retries`, the one place that decides whether and how long to
wait: `retry-after` for a rate limit (capped), capped exponential backoff with jitter
for server errors, timeouts and broken connections. Every request but the long-poll
waits `RetryPolicy.timeout` for its answer, not the client's 15 s, which a busy server
can pass (issue 27): each retry after a timeout does the work again and adds to the load.
The API key never reaches a log record.
"""

from __future__ import annotations

import base64
import collections
import configparser
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import requests
import zulip

from bot import metrics

log = logging.getLogger(__name__)

DIRECT_FEATURE_LEVEL = 174  # Zulip 7.0: message type "direct" (was "private")
CHANNEL_FEATURE_LEVEL = 250  # Zulip 9.0: message type "channel" (was "stream")
STREAM_TYPES = frozenset({"stream", "channel"})
DIRECT_TYPES = frozenset({"private", "direct"})
UNMETERED = frozenset({"get_events"})
PAGE_SIZE = 1000  # the most GET /messages returns after the anchor
SENT_LOOKUP = 200  # the bot's own messages after a command searched for its reply  # the long-poll is served outside Zulip's API rate limit


class ZulipError(Exception):
    """Zulip answered a request with an error result."""

    def __init__(self, what: str, code: str, msg: str):
        super().__init__(f"{what}: {code}: {msg}")
        self.code = code
        self.msg = msg


class ZulipUnavailable(ZulipError):
    """Zulip could not be reached (or kept failing) after every retry."""


@dataclass
class RetryPolicy:
    """How long to wait between attempts; `sleep` is injectable for tests (None: wait on
    the client, which `ZulipIO.close` cuts short)."""

    base: float = 1.0
    timeout: float = 30.0  # s for one answer (twice the zulip client's; the long-poll keeps its 90 s)
    ceiling: float = 60.0
    max_attempts: int = 8
    per_minute: int = 190  # requests in any 60 s; Zulip allows 200 (the long-poll aside)
    rate_limit_patience: float = 600.0  # seconds of 429s one call waits out before giving up
    sleep: Callable[[float], None] | None = None
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """Exponential delay for the given (1-based) retry, capped, with jitter."""
        full = min(self.ceiling, self.base * 2 ** (attempt - 1))
        return full * self.rng.uniform(0.5, 1.0)

    def rate_limit(self, retry_after: float | None, attempt: int) -> float:
        """The server's own delay when it gave one, else the backoff; capped."""
        if retry_after is None:
            return self.backoff(attempt)
        return min(self.ceiling, max(0.0, retry_after))


class RequestBudget:
    """Paces calls so that at most `per_minute` start in any 60 seconds."""

    WINDOW = 60.0

    def __init__(self, per_minute: int, sleep: Callable[[float], None], clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.sleep = sleep
        self.clock = clock
        self._starts: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def take(self, spare: int = 0) -> None:
        """Wait until one more call fits in the window with ``spare`` calls still left
        over for others (a low-priority caller), then count it."""
        while (wait := self._try_take(spare)) > 0:
            log.info("Pacing Zulip requests (%d in the last minute); waiting %.1f s", self.per_minute, wait)
            self.sleep(wait)

    def delay(self, spare: int = 0) -> float:
        """Seconds until ``take(spare)`` would not wait (0: now); counts nothing."""
        return self._wait(spare, count=False)

    def _try_take(self, spare: int) -> float:
        return self._wait(spare, count=True)

    def _wait(self, spare: int, count: bool) -> float:
        """Seconds until a call fits with ``spare`` calls left over; 0, and counted if
        ``count``, when it fits now."""
        with self._lock:
            now = self.clock()
            while self._starts and now - self._starts[0] >= self.WINDOW:
                self._starts.popleft()
            allowed = max(1, self.per_minute - spare)
            if len(self._starts) < allowed:
                if count:
                    self._starts.append(now)
                return 0.0
            return self.WINDOW - (now - self._starts[len(self._starts) - allowed])


# ---- secrets never logged ----------------------------------------------------------


class _Redactor:
    """Scrubs secrets from every log record at creation, wherever it is handled.

    A `logging.Filter` on the root logger does not see records propagated from child
    loggers, so the redaction hooks the record factory instead, which every record
    (including pytest's caplog) passes through.
    """

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self._previous = logging.getLogRecordFactory()
        logging.setLogRecordFactory(self._make_record)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def _make_record(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._previous(*args, **kwargs)
        if self.secrets:
            try:
                record.msg, record.args = self.scrub(record.getMessage()), None
            except Exception:  # a malformed call: logging reports it; still scrub the template
                record.msg = self.scrub(str(record.msg))
            if record.exc_info:
                record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
        return record


_redactor: _Redactor | None = None
_redactor_lock = threading.Lock()


def redact_in_logs(*secrets: str) -> None:
    """Never let these strings appear in any log record from now on."""
    global _redactor
    with _redactor_lock:
        if _redactor is None:
            _redactor = _Redactor()
        _redactor.secrets.update(s for s in secrets if s and len(s) >= 4)


def _read_credentials(config_file: str) -> tuple[str, str]:
    parser = configparser.ConfigParser()
    parser.read(config_file)
    return parser.get("api", "email", fallback=""), parser.get("api", "key", fallback="")


# ---- the client ----------------------------------------------------------------------


class ZulipIO:
    """A `zulip.Client` whose every call retries the way a long-running bot needs."""

    def __init__(self, config_file: str, policy: RetryPolicy | None = None, client: zulip.Client | None = None):
        """Connect with the zuliprc `config_file`, or adopt a connected `client` (the one
        `zulip-run-bot` made)."""
        self.config_file = str(config_file)
        self.policy = policy or RetryPolicy()
        self._closing = threading.Event()
        self.budget = RequestBudget(self.policy.per_minute, self._pause)
        email, key = _read_credentials(self.config_file) if client is None else (client.email, client.api_key)
        token = base64.b64encode(f"{email}:{key}".encode()).decode() if key else ""
        redact_in_logs(key, token)
        self._last = threading.local()
        self.client = self._with_retries("connect", lambda: self._prepare(client or self._new_client()), check=False)
        self.feature_level: int = self.client.feature_level
        self.email: str = self.client.email

    # -- message-type vocabulary by feature level

    @property
    def direct_type(self) -> str:
        return "direct" if self.feature_level >= DIRECT_FEATURE_LEVEL else "private"

    @property
    def stream_type(self) -> str:
        return "channel" if self.feature_level >= CHANNEL_FEATURE_LEVEL else "stream"

    # -- calls

    def call(self, method_name: str, *args: Any, **kwargs: Any) -> dict:
        """Call a `zulip.Client` method by name, with retries; raise on an error result."""
        method = getattr(self.client, method_name)
        return self._with_retries(method_name, lambda: method(*args, **kwargs))

    def call_endpoint(self, url: str, method: str = "POST", request: dict | None = None,
                      spare: int = 0, **kwargs: Any) -> dict:
        """Call an endpoint by URL, with retries; raise on an error result. ``spare``: wait
        until that many calls a minute are still left for others (see ``RequestBudget``)."""
        what = f"{method} /{url}"
        return self._with_retries(
            what, lambda: self.client.call_endpoint(url=url, method=method, request=request, **kwargs), spare=spare
        )

    def send_stream(self, stream: str, topic: str, content: str, after_id: int | None = None,
                    maybe_sent: bool = False, sent: Callable[[], int | None] | None = None) -> dict:
        """``sent``: how to find this message in Zulip (its id, or None) before a retry, when
        not by its text after ``after_id``."""
        request = {"type": self.stream_type, "to": stream, "topic": topic, "content": content}
        where = [{"operator": "stream", "operand": stream}, {"operator": "topic", "operand": topic}]
        return self._send(request, where, after_id, maybe_sent, sent)

    def send_direct(self, user_ids: list[int], content: str, after_id: int | None = None,
                    maybe_sent: bool = False) -> dict:
        request = {"type": self.direct_type, "to": [int(i) for i in user_ids], "content": content}
        where = [{"operator": "dm", "operand": sorted(int(i) for i in user_ids)}]
        return self._send(request, where, after_id, maybe_sent)

    def _send(self, request: dict, where: list[dict], after_id: int | None, maybe_sent: bool,
              sent: Callable[[], int | None] | None = None) -> dict:
        """Send a message exactly once. A retry after a failure that may have reached Zulip
        (a timeout, a 5xx, a cut connection) first asks `sent`, or looks for the same text
        from the bot there: after `after_id` (the message being answered), or without one
        among the bot's newest there (a hello: one such text there is enough);
        `maybe_sent` looks before the first attempt too (a restart after a send that was
        not recorded)."""
        if sent is None:
            sent = lambda: self.find_sent(where, request["content"], after_id)  # noqa: E731

        def already_sent() -> dict | None:
            found = sent()
            return None if found is None else {"result": "success", "msg": "", "id": found}

        if maybe_sent and (found := already_sent()) is not None:
            log.info("Reply to message %s was already sent (message %s)", after_id, found["id"])
            return found
        return self._with_retries("send_message", lambda: self.client.send_message(request),
                                  before_retry=already_sent)

    def pages(self, narrow: list[dict], after: int | None, page_size: int = PAGE_SIZE) -> Iterator[list[dict]]:
        """Pages of raw-Markdown messages in the narrow, oldest first, strictly after
        `after` (None: from the oldest)."""
        anchor, include = (after, False) if after is not None else ("oldest", True)
        while True:
            answer = self.call("get_messages", {
                "anchor": anchor, "include_anchor": include, "num_before": 0,
                "num_after": page_size, "narrow": narrow, "apply_markdown": False,
            })
            messages = answer["messages"]
            yield messages
            if answer.get("found_newest") or not messages:
                return
            anchor, include = messages[-1]["id"], False

    def find_sent(self, where: list[dict], content: str, after_id: int | None) -> int | None:
        """The id of a message the bot sent with this content in this conversation after
        `after_id` (None: among its newest there), or None."""
        narrow = where + [{"operator": "sender", "operand": self.email}]
        window = ({"anchor": "newest", "num_before": SENT_LOOKUP, "num_after": 0} if after_id is None else
                  {"anchor": int(after_id), "include_anchor": False, "num_before": 0, "num_after": SENT_LOOKUP})
        answer = self.call("get_messages", {**window, "narrow": narrow, "apply_markdown": False})
        wanted = content.strip()
        return next((int(m["id"]) for m in answer["messages"] if m["content"].strip() == wanted), None)

    def upload(self, path: str) -> str:
        """Upload a file; return its `/user_uploads/...` path."""
        with open(path, "rb") as handle:
            result = self._with_retries("upload", lambda: self._upload_once(handle))
        return result.get("url") or result["uri"]

    def _upload_once(self, handle: Any) -> dict:
        handle.seek(0)
        return self.client.upload_file(handle)

    # -- retry machinery

    def _new_client(self) -> zulip.Client:
        return zulip.Client(config_file=self.config_file, retry_on_errors=False, client="batchviz")

    def _prepare(self, client: zulip.Client) -> zulip.Client:
        client.ensure_session()
        client.session.hooks["response"].append(self._remember)
        query, default = client.do_api_query, self.policy.timeout

        def patient_query(*args: Any, timeout: float | None = None, **kwargs: Any) -> dict:
            return query(*args, timeout=timeout or default, **kwargs)  # a caller's own stays

        client.do_api_query = patient_query  # the client's methods all come through here
        return client

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last.status = response.status_code
        self._last.retry_after = response.headers.get("Retry-After")

    def _with_retries(self, what: str, attempt_once: Callable[[], Any], check: bool = True,
                      before_retry: Callable[[], Any] | None = None, spare: int = 0) -> Any:
        """Call until an answer worth returning; `before_retry` (if given) runs before each
        retry after a failure, and its result, when not None, is returned instead."""
        attempt = errors = 0
        limited = 0.0  # seconds waited on rate limits so far
        while True:
            if attempt and before_retry is not None and (done := before_retry()) is not None:
                return done
            if what not in UNMETERED:
                self.budget.take(spare)
            self._last.status, self._last.retry_after = 0, None
            failure, delay_hint = self._try(attempt_once)
            if failure is None:
                return self._checked(what, delay_hint) if check else delay_hint
            attempt += 1
            metrics.zulip_retry(failure)
            errors += failure != "rate limited"  # a rate limit always ends: wait it out
            if errors >= self.policy.max_attempts:
                raise ZulipUnavailable(what, "UNAVAILABLE", f"gave up after {attempt} attempts ({failure})")
            delay = (self.policy.rate_limit(delay_hint, attempt) if failure == "rate limited"
                     else self.policy.backoff(attempt))
            limited += delay if failure == "rate limited" else 0.0
            if limited > self.policy.rate_limit_patience:  # a storm of 429s: the caller retries later
                raise ZulipUnavailable(what, "RATE_LIMITED", f"still rate limited after {attempt} attempts")
            log.warning("Zulip %s failed (%s); retry %d in %.1f s", what, failure, attempt, delay)
            self._pause(delay)

    def close(self) -> None:
        """The bot is stopping: no call waits to retry any more (a wait under way ends at
        once, raising ZulipUnavailable), so a storm of 429s cannot hold up SIGTERM."""
        self._closing.set()

    def _pause(self, seconds: float) -> None:
        if self.policy.sleep is None:
            self._closing.wait(seconds)
        else:
            self.policy.sleep(seconds)
        if self._closing.is_set():
            raise ZulipUnavailable("retry", "STOPPING", "the bot is stopping")

    def _try(self, attempt_once: Callable[[], Any]) -> tuple[str | None, Any]:
        """Run once: (None, result) on an answer worth returning, else (why, retry-after)."""
        try:
            result = attempt_once()
        except (requests.ConnectionError, requests.Timeout, zulip.UnrecoverableNetworkError) as exc:
            return f"connection: {type(exc).__name__}", None
        except AssertionError:  # zulip.Client() asserts on a failed GET /server_settings
            return f"server settings unavailable (HTTP {self._last.status})", None
        status = getattr(self._last, "status", 0) or 0
        body = result if isinstance(result, dict) else {}
        if status == 429 or body.get("code") == "RATE_LIMIT_HIT":
            return "rate limited", _seconds(body.get("retry-after", self._last.retry_after))
        if status >= 500 or (body.get("result") == "http-error" and body.get("status_code", 0) >= 500):
            return f"HTTP {status or body.get('status_code')}", None
        return None, result

    @staticmethod
    def _checked(what: str, result: Any) -> Any:
        if isinstance(result, dict) and result.get("result") != "success":
            raise ZulipError(what, str(result.get("code", result.get("result"))), str(result.get("msg", "")))
        return result


def _seconds(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def message_is_stream(message: dict) -> bool:
    """Whether a message (or event) is a stream/channel message, on any server version."""
    return message.get("type") in STREAM_TYPES


def message_is_direct(message: dict) -> bool:
    return message.get("type") in DIRECT_TYPES
