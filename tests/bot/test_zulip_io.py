"""The Zulip client wrapper against the test server: 429, 5xx, dropped connections, secrets."""

from __future__ import annotations

import logging

import pytest

from bot.zulip_io import RetryPolicy, ZulipError, ZulipIO, ZulipUnavailable


def test_rate_limit_sleeps_for_retry_after(realm, make_io, sleeps):
    """A 429 is retried after exactly the server's retry-after."""
    io = make_io()
    realm.server.rate_limit_next(1, retry_after=7, path_prefix="/users/me")
    profile = io.call("get_profile")
    assert profile["user_id"] == realm.bot.user_id
    assert sleeps.asked == [7.0]
    assert realm.server.count("GET /users/me") == 2


def test_rate_limit_wait_is_capped(realm, tmp_path, sleeps):
    """A huge retry-after is capped at the policy's ceiling."""
    io = ZulipIO(str(realm.server.zuliprc(tmp_path, realm.bot)), RetryPolicy(ceiling=30, sleep=sleeps))
    realm.server.rate_limit_next(1, retry_after=3600, path_prefix="/users/me")
    io.call("get_profile")
    assert sleeps.asked == [30]


def test_server_errors_retried_with_growing_capped_backoff(realm, tmp_path, sleeps):
    """5xx answers are retried with exponential backoff that never passes the ceiling."""
    policy = RetryPolicy(base=1, ceiling=4, sleep=sleeps)
    io = ZulipIO(str(realm.server.zuliprc(tmp_path, realm.bot)), policy)
    realm.server.fail_next(5, status=503, path_prefix="/users/me")
    assert io.call("get_profile")["full_name"] == "Map Bot"
    assert len(sleeps.asked) == 5
    assert all(0 < s <= 4 for s in sleeps.asked)
    assert sleeps.asked[3] > sleeps.asked[0]


def test_gives_up_after_max_attempts(realm, make_io):
    """A server that keeps failing ends in ZulipUnavailable, not an endless loop."""
    io = make_io(max_attempts=3)
    realm.server.fail_next(10, status=500, path_prefix="/users/me")
    with pytest.raises(ZulipUnavailable):
        io.call("get_profile")


def test_dropped_connection_retried(realm, make_io, sleeps):
    """A connection closed without an answer is retried."""
    io = make_io()
    realm.server.drop_next(1, path_prefix="/users/me")
    assert io.call("get_profile")["user_id"] == realm.bot.user_id
    assert len(sleeps.asked) == 1


def test_an_answer_later_than_the_policy_timeout_is_asked_again(realm, tmp_path, sleeps):
    """Every call waits the policy's timeout (not the client's own 15 s), then retries."""
    io = ZulipIO(str(realm.server.zuliprc(tmp_path, realm.bot)), RetryPolicy(timeout=0.3, sleep=sleeps))
    realm.server.answer_late_next(1, after=1.0, path_prefix="/users/me")
    assert io.call("get_profile")["user_id"] == realm.bot.user_id
    assert realm.server.count("GET /users/me") == 2 and len(sleeps.asked) == 1


@pytest.mark.parametrize("send", ["stream", "direct"])
def test_a_send_answered_too_late_is_not_sent_again(realm, tmp_path, sleeps, send):
    """A hello or a weekly post (no message it answers) whose answer came too late went
    through: the retry finds it and sends nothing more."""
    io = ZulipIO(str(realm.server.zuliprc(tmp_path, realm.bot)), RetryPolicy(timeout=0.3, sleep=sleeps))
    realm.server.answer_late_next(1, after=1.0, path_prefix="/messages")
    sent = (io.send_stream("general", "hello", "Hello! I map introductions.") if send == "stream"
            else io.send_direct([realm.alice.user_id], "Hello! I map introductions."))
    [message] = realm.server.messages_sent_by(realm.bot)
    assert sent["id"] == message.id and realm.server.count("POST /messages") == 1


def test_connect_retries_server_settings(realm, make_io, sleeps):
    """The client's own GET /server_settings at construction is retried on 5xx."""
    realm.server.fail_next(2, status=502, path_prefix="/server_settings")
    io = make_io()
    assert io.feature_level > 0
    assert len(sleeps.asked) == 2


def test_error_result_raises_with_code(realm, make_io):
    """An error answer (not a transient one) raises ZulipError carrying Zulip's code."""
    io = make_io()
    with pytest.raises(ZulipError) as raised:
        io.call("get_events", queue_id="no-such-queue", last_event_id=-1)
    assert raised.value.code == "BAD_EVENT_QUEUE_ID"


def test_message_types_follow_feature_level(realm, make_io):
    """Direct messages are sent as "direct" on a server that accepts it, and arrive."""
    io = make_io()
    assert io.direct_type == "direct"
    io.send_direct([realm.alice.user_id], "hello")
    io.send_stream("general", "maps", "hi all")
    sent = realm.server.messages_sent_by(realm.bot)
    assert [m.type for m in sent] == ["private", "stream"]


def test_api_key_never_logged(realm, tmp_path, caplog, sleeps):
    """Across a session with failures, no log record contains the API key."""
    caplog.set_level(logging.DEBUG)
    io = ZulipIO(str(realm.server.zuliprc(tmp_path, realm.bot)), RetryPolicy(max_attempts=2, sleep=sleeps))
    realm.server.fail_next(5, status=500)
    with pytest.raises(ZulipUnavailable):
        io.call("get_profile")
    logging.getLogger("test").error("leak attempt %s", realm.bot.api_key)
    text = caplog.text + "".join(str(r.msg) for r in caplog.records)
    assert "failed" in text  # the retry was logged
    assert realm.bot.api_key not in text
    assert "[redacted]" in text
