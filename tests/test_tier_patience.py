"""The real-Zulip tier's own retry policy (tests/real_zulip/patience.py), against the test
server's late answers: a busy server is waited for, and a retry never makes a second copy.
(The tier itself needs the real server; this checks its policy in the fast suite.)"""

from __future__ import annotations

import pytest

from real_zulip import patience


@pytest.fixture
def client(zulip_server, monkeypatch):
    """A tier client for a person, with answers later than 0.3 s counting as timed out."""
    monkeypatch.setattr(patience, "REQUEST_TIMEOUT", 0.3)
    monkeypatch.setattr(patience, "_BACKOFF", lambda state: 0.05)
    person = zulip_server.add_user("Pat Patient")
    zulip_server.add_stream("welcome", subscribers=[person])
    return patience.Client(email=person.delivery_email, api_key=person.api_key, site=zulip_server.base_url)


def test_a_send_answered_late_is_found_not_sent_again(zulip_server, client):
    """The first attempt went through but its answer came too late: the retry looks,
    finds the message, and sends nothing more."""
    zulip_server.answer_late_next(1, after=1.0, path_prefix="/messages")
    sent = client.send_message({"type": "stream", "to": "welcome", "topic": "t", "content": "once only"})
    [message] = zulip_server.messages_sent_by(client.user_id)
    assert sent["id"] == message.id and zulip_server.count("POST /messages") == 1


def test_a_queue_deleted_by_a_late_answered_request_counts_as_deleted(zulip_server, client):
    """DELETE /events went through, its answer came too late: the retry's "no such queue"
    is what the first would have said had it answered in time."""
    queue = client.register(event_types=["message"])["queue_id"]
    zulip_server.answer_late_next(1, after=1.0, path_prefix="/events")
    assert client.deregister(queue)["result"] == "success"
    assert zulip_server.count("DELETE /events") == 2


def test_reads_wait_out_rate_limits_and_dropped_connections(zulip_server, client):
    zulip_server.rate_limit_next(1, retry_after=0.1, path_prefix="/users/me")
    zulip_server.drop_next(1, path_prefix="/users/me")
    assert client.get_profile()["result"] == "success"
    assert zulip_server.count("GET /users/me") == 3


def test_a_server_that_never_answers_in_time_fails_the_test_saying_what_and_how_long(
        zulip_server, client, monkeypatch):
    monkeypatch.setattr(patience, "TOTAL", 1.0)
    zulip_server.answer_late_next(100, after=0.5, path_prefix="/users/me")
    with pytest.raises(pytest.fail.Exception, match=r"did not answer GET v1/users/me in \d+ s \(\d+ attempts"):
        client.get_profile()


def test_a_read_answered_late_returns_the_answer_of_its_retry(zulip_server, client):
    """A retried read is not mistaken for a request that went through before."""
    zulip_server.answer_late_next(1, after=1.0, path_prefix="/users/me")
    assert client.get_profile()["full_name"] == "Pat Patient"
