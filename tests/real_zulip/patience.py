"""The tier's one policy for its own requests to Zulip: a busy server is waited for.

On a 2-core machine running Zulip's whole development stack beside other jobs, a request
can take longer than the `zulip` client's 15 s (issue 27: the tier's own DELETE /events
timed out). So every request the tier's code makes (through `Client`, or `patiently`
for the unauthenticated dev endpoints) waits REQUEST_TIMEOUT for its answer, and is sent
again after a timeout, a dropped or refused connection, a 5xx answer or a 429 (after its
`retry-after`), until TOTAL seconds have passed since the first attempt; then the test
fails, naming the request and how long it was tried. (The bot under test has its own
policy, `bot/zulip_io.py`: this one is the test's, never the product's.)

A retry must not do twice what the first attempt may have done. Where a second attempt
would make a second copy (a message, a user, a bot), `LOOKS` first asks the server
whether the first went through, and returns what it made. Where a second attempt would
be refused because the first went through (a deleted queue or message, a message
already moved), that refusal is the answer the first attempt would have given:
`ALREADY_DONE`. Everything else the tier sends is a read or sets a state (a role, a
subscription, a message's text), which is safe to send again.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from typing import Any, Callable

import pytest
import requests
import tenacity
import zulip

log = logging.getLogger(__name__)

ZULIP_CLIENT_TIMEOUT = 15.0  # s: the zulip client's own, which a loaded machine exceeded
REQUEST_TIMEOUT = 60.0  # s for one answer: 4x that
TOTAL = 300.0  # s for all attempts of one request, waits included (the last may add REQUEST_TIMEOUT)
LOOK_BACK = 50  # the sender's newest messages in a conversation searched for a lost send
TRANSIENT = (requests.Timeout, requests.ConnectionError, zulip.UnrecoverableNetworkError)


class Busy(Exception):
    """Zulip answered, but asked to be asked again (429), or failed inside (5xx)."""

    def __init__(self, answer: dict, retry_after: float | None):
        super().__init__(f"{answer.get('code') or answer.get('status_code')}: {answer.get('msg', '')[:200]}")
        self.retry_after = retry_after


def _wait(state: tenacity.RetryCallState) -> float:
    """A 429's own retry-after; else a growing, jittered pause (1, 2, 4 ... 20 s)."""
    failure = state.outcome.exception() if state.outcome else None
    if isinstance(failure, Busy) and failure.retry_after is not None:
        return failure.retry_after + 0.1
    return _BACKOFF(state)


_BACKOFF = tenacity.wait_exponential_jitter(initial=1, max=20, jitter=1)


def patiently(send: Callable[[], tuple[int, dict]], what: str, look: Callable[[], dict | None] | None = None) -> dict:
    """`send()` (→ HTTP status, JSON answer) until Zulip answers it (see the module's
    docstring); `look()`, run before a retry when the failed attempt may have reached
    Zulip, returns the answer of an attempt that went through (then nothing is sent
    again), else None."""
    maybe_done = False

    def gave_up(state: tenacity.RetryCallState):
        pytest.fail(f"Zulip did not answer {what} in {state.seconds_since_start:.0f} s "
                    f"({state.attempt_number} attempts, at most {REQUEST_TIMEOUT:.0f} s each): "
                    f"{state.outcome.exception()!r}")

    def before_sleep(state: tenacity.RetryCallState) -> None:
        log.warning("%s: %r; attempt %d in %.1f s", what, state.outcome.exception(),
                    state.attempt_number + 1, state.upcoming_sleep)

    retrying = tenacity.Retrying(retry=tenacity.retry_if_exception_type(TRANSIENT + (Busy,)), wait=_wait,
                                 stop=tenacity.stop_after_delay(TOTAL), before_sleep=before_sleep,
                                 retry_error_callback=gave_up)
    for attempt in retrying:
        with attempt:
            if maybe_done and look is not None and (found := look()) is not None:
                log.warning("%s: the failed attempt went through; not sent again", what)
                return found
            try:
                status, answer = send()
            except TRANSIENT:
                maybe_done = True
                raise
            if status == 429 or answer.get("code") == "RATE_LIMIT_HIT":
                raise Busy(answer, float(answer.get("retry-after") or 1))
            if status >= 500:  # Zulip, or the dev proxy in front of it, failed midway
                maybe_done = True
                raise Busy(answer, None)
            if maybe_done and {answer.get("code"), answer.get("msg")} & set(ALREADY_DONE.get(_route(what), ())):
                log.warning("%s: the failed attempt went through (%s)", what, answer.get("code"))
                return {"result": "success", "msg": ""}
            return answer
    raise AssertionError("unreachable: tenacity either returns or calls gave_up")


def _route(what: str) -> str:
    """`DELETE v1/events` → `DELETE events`; ids → `<id>` (`PATCH messages/<id>`)."""
    method, _, url = what.partition(" ")
    return f"{method} " + re.sub(r"/\d+", "/<id>", url.removeprefix("v1/"))


def json_answer(response: requests.Response) -> dict:
    """A `requests` answer as the `zulip` client returns one (for the dev endpoints)."""
    try:
        return response.json()
    except ValueError:
        return {"result": "http-error", "status_code": response.status_code, "msg": response.text[:200]}


def answered(response: requests.Response) -> tuple[int, dict]:
    return response.status_code, json_answer(response)


# ---- what a second attempt must not repeat ------------------------------------------

ALREADY_DONE = {  # a route → the error codes or texts that say the first attempt went through
    "DELETE events": ("BAD_EVENT_QUEUE_ID",),  # the queue is gone: what the DELETE was for
    "DELETE messages/<id>": ("Invalid message(s)",),  # deleted already
    "PATCH messages/<id>": ("Nothing to change",),  # moved already (a same-text edit just succeeds)
    "DELETE users/<id>": ("User is deactivated",),  # deactivated already
}


def _sent_message(client: "Client", request: dict, since: float) -> dict | None:
    """Zulip's answer to a send of `request` that went through after `since`, or None."""
    if request["type"] in ("stream", "channel"):
        narrow = [{"operator": "stream", "operand": request["to"]}, {"operator": "topic", "operand": request["topic"]}]
    else:
        narrow = [{"operator": "dm", "operand": sorted(int(i) for i in request["to"])}]
    narrow.append({"operator": "sender", "operand": client.user_id})
    found = client.get_messages({"anchor": "newest", "num_before": LOOK_BACK, "num_after": 0,
                                 "narrow": narrow, "apply_markdown": False})
    for message in reversed(found.get("messages", [])):
        if message["content"] == request["content"] and message["timestamp"] >= int(since) - 1:
            return {"result": "success", "msg": "", "id": message["id"]}
    return None


def _created_user(client: "Client", request: dict, since: float) -> dict | None:
    found = client.call_endpoint(f"users/{request['email']}", method="GET")
    return {"result": "success", "msg": "", "user_id": found["user"]["user_id"]} if found.get("result") == "success" else None


def _created_bot(client: "Client", request: dict, since: float) -> dict | None:
    """The bot of that short name among the caller's own, with its key (GET /bots) and id."""
    for bot in client.call_endpoint("bots", method="GET").get("bots", []):
        if bot["username"].split("-bot@")[0] == request["short_name"]:
            found = _created_user(client, {"email": bot["username"]}, since)
            return None if found is None else {**found, "api_key": bot["api_key"]}
    return None


LOOKS: dict[str, Callable[["Client", dict, float], dict | None]] = {
    "POST messages": _sent_message,
    "POST users": _created_user,
    "POST bots": _created_bot,
}


class Client(zulip.Client):
    """A `zulip.Client` whose every request follows the tier's policy (`patiently`),
    including the GET /server_settings that constructing one sends."""

    def __init__(self, **kwargs: Any):
        self._status = threading.local()  # the HTTP status of this thread's latest answer
        super().__init__(retry_on_errors=False, **kwargs)  # one policy decides: this one

    def ensure_session(self) -> None:
        if self.session is None:
            super().ensure_session()
            self.session.hooks["response"].append(lambda response, **_: setattr(self._status, "code", response.status_code))

    @functools.cached_property
    def user_id(self) -> int:
        return int(self.get_profile()["user_id"])

    def do_api_query(self, orig_request, url: str, method: str = "POST", longpolling: bool = False,
                     files=None, timeout: float | None = None) -> dict:
        what = f"{method} {url}"
        since, look = time.time(), LOOKS.get(_route(what))

        def send() -> tuple[int, dict]:
            self._status.code, started = 0, time.monotonic()
            answer = super(Client, self).do_api_query(orig_request, url, method=method, longpolling=longpolling,
                                                      files=files, timeout=timeout or REQUEST_TIMEOUT)
            if (took := time.monotonic() - started) > ZULIP_CLIENT_TIMEOUT:
                log.warning("%s answered in %.1f s: the zulip client alone would have given up", what, took)
            return self._status.code, answer

        return patiently(send, what, look=None if look is None else lambda: look(self, dict(orig_request), since))
