"""The Zulip-compatible test server, driven by the real zulip.Client over loopback HTTP."""

import io
import threading

import pytest
import requests

TOPIC = "introductions"


@pytest.fixture
def realm(zulip_server):
    """A bot and two people; a public welcome stream with all three, a private stream with Alice only."""
    bot = zulip_server.add_user("Map Bot", is_bot=True)
    alice = zulip_server.add_user("Alice Adams")
    bob = zulip_server.add_user("Bob <b>Brown</b>", email="bob@zulip.test")
    zulip_server.add_stream("welcome", subscribers=[bot, alice, bob])
    zulip_server.add_stream("secret", invite_only=True, subscribers=[alice])
    return {"bot": bot, "alice": alice, "bob": bob}


@pytest.fixture
def bot_client(zulip_server, realm):
    """A real zulip.Client logged in as the bot through a zuliprc file."""
    import tempfile

    import zulip

    with tempfile.TemporaryDirectory() as folder:
        yield zulip.Client(config_file=str(zulip_server.zuliprc(folder, realm["bot"])))


def welcome_narrow(topic=TOPIC):
    return [{"operator": "stream", "operand": "welcome"}, {"operator": "topic", "operand": topic}]


def test_send_and_read_back_with_narrow(zulip_server, realm, bot_client):
    """A message sent with the client comes back raw or rendered, and only in its own narrow."""
    sent = bot_client.send_message({"type": "stream", "to": "welcome", "topic": TOPIC, "content": "I *like* maps"})
    zulip_server.send_stream_message(realm["alice"], "welcome", "other topic", "not here")
    raw = bot_client.get_messages({"anchor": "newest", "num_before": 10, "num_after": 0,
                                   "narrow": welcome_narrow(), "apply_markdown": False})
    rendered = bot_client.get_messages({"anchor": "newest", "num_before": 10, "num_after": 0,
                                        "narrow": [["stream", "welcome"], ["topic", TOPIC]]})
    assert [m["id"] for m in raw["messages"]] == [sent["id"]]
    assert raw["messages"][0]["content"] == "I *like* maps"
    assert rendered["messages"][0]["content"] == "<p>I *like* maps</p>"
    assert raw["messages"][0]["display_recipient"] == "welcome" and raw["found_anchor"]


def test_a_message_over_10000_characters_is_cut_as_zulip_cuts_it(realm, bot_client):
    """Zulip keeps the first 10,000 characters of a longer message, ending with a note."""
    bot_client.send_message({"type": "stream", "to": "welcome", "topic": TOPIC, "content": "x" * 12_000})
    [kept] = bot_client.get_messages({"anchor": "newest", "num_before": 1, "num_after": 0,
                                      "narrow": welcome_narrow(), "apply_markdown": False})["messages"]
    assert len(kept["content"]) == 10_000 and kept["content"].endswith("x\n[message truncated]")


def test_paging_across_1200_messages(zulip_server, realm, bot_client):
    """Paging backwards from the newest message visits all 1,200 once, and only the last page is found_oldest."""
    ids = [zulip_server.send_stream_message(realm["alice"], "welcome", TOPIC, f"intro {i}") for i in range(1200)]
    seen, anchor, pages = [], "newest", []
    while True:
        page = bot_client.get_messages({"anchor": anchor, "num_before": 500, "num_after": 0,
                                        "include_anchor": anchor == "newest", "narrow": welcome_narrow()})
        seen[:0] = [m["id"] for m in page["messages"]]
        pages.append(page)
        if page["found_oldest"]:
            break
        anchor = page["messages"][0]["id"]
    assert seen == ids
    assert [p["found_oldest"] for p in pages] == [False, False, True]
    assert pages[0]["found_newest"] and pages[0]["anchor"] == ids[-1]


def test_more_than_5000_messages_is_an_error(realm, bot_client):
    """Asking for more than 5,000 messages is refused as the real server does."""
    result = bot_client.get_messages({"anchor": "oldest", "num_before": 0, "num_after": 5001})
    assert result["result"] == "error" and "5000" in result["msg"]


def test_registered_queue_receives_message_event(zulip_server, realm, bot_client):
    """After register, GET /events returns a message event for the narrow, and only a heartbeat for others."""
    queue = bot_client.register(event_types=["message"], narrow=[["stream", "welcome"]])
    zulip_server.send_stream_message(realm["alice"], "secret", TOPIC, "not for the bot")
    sent = zulip_server.send_stream_message(realm["alice"], "welcome", TOPIC, "Hello, I'm Alice")
    events = bot_client.get_events(queue_id=queue["queue_id"], last_event_id=queue["last_event_id"])["events"]
    assert [(e["type"], e["message"]["id"], e["message"]["content"]) for e in events] == [
        ("message", sent, "Hello, I'm Alice")]
    later = bot_client.get_events(queue_id=queue["queue_id"], last_event_id=events[-1]["id"])["events"]
    assert [e["type"] for e in later] == ["heartbeat"]


def test_long_poll_wakes_up_for_a_new_message(zulip_server, realm, bot_client):
    """A blocking GET /events returns the message sent while it was waiting."""
    zulip_server.poll_timeout = 30
    queue = bot_client.register(event_types=["message"])
    answer = {}
    poll = threading.Thread(target=lambda: answer.update(bot_client.get_events(queue_id=queue["queue_id"],
                                                                               last_event_id=-1)))
    poll.start()
    while zulip_server.count("GET /events") == 0:
        threading.Event().wait(0.01)
    sent = zulip_server.send_dm(realm["alice"], realm["bot"], "near me")
    poll.join(timeout=30)
    assert [e["message"]["id"] for e in answer["events"]] == [sent]


def test_edit_and_delete_produce_events(zulip_server, realm, bot_client):
    """Editing content and topic, then deleting, delivers update_message and delete_message events."""
    sent = zulip_server.send_stream_message(realm["alice"], "welcome", TOPIC, "old text")
    queue = bot_client.register(event_types=["update_message", "delete_message"])
    zulip_server.edit_message(sent, content="new text", topic="renamed")
    zulip_server.delete_message(sent)
    update, delete = bot_client.get_events(queue_id=queue["queue_id"], last_event_id=-1)["events"]
    assert (update["type"], update["message_id"], update["message_ids"]) == ("update_message", sent, [sent])
    assert (update["orig_content"], update["content"]) == ("old text", "new text")
    assert (update["orig_subject"], update["subject"], update["rendering_only"]) == (TOPIC, "renamed", False)
    assert delete == {"type": "delete_message", "id": delete["id"], "message_id": sent, "message_ids": [sent],
                      "message_type": "stream", "stream_id": update["stream_id"], "topic": "renamed"}


def test_client_edit_then_get_message_shows_history(zulip_server, realm, bot_client):
    """PATCH /messages/{id} by the sender changes what GET /messages/{id} returns."""
    sent = bot_client.send_message({"type": "stream", "to": "welcome", "topic": TOPIC, "content": "v1"})["id"]
    assert bot_client.update_message({"message_id": sent, "content": "v2"})["result"] == "success"
    fetched = bot_client.get_raw_message(sent)
    assert fetched["raw_content"] == "v2" and fetched["message"]["edit_history"][0]["prev_content"] == "v1"


def test_expired_queue_returns_bad_event_queue_id(zulip_server, realm, bot_client):
    """After expire_queues, GET /events answers HTTP 400 with code BAD_EVENT_QUEUE_ID and the queue id."""
    queue = bot_client.register(event_types=["message"])
    zulip_server.expire_queues()
    result = bot_client.get_events(queue_id=queue["queue_id"], last_event_id=-1)
    assert result["code"] == "BAD_EVENT_QUEUE_ID" and result["queue_id"] == queue["queue_id"]
    assert zulip_server.request_log[-1].status == 400


def test_rate_limit_has_retry_after(zulip_server, realm, bot_client):
    """A rate-limited request is HTTP 429 with retry-after in the body and the Retry-After header."""
    zulip_server.rate_limit_next(1, retry_after=2)
    result = bot_client.get_profile()
    assert (result["code"], result["retry-after"]) == ("RATE_LIMIT_HIT", 2)
    zulip_server.rate_limit_next(1, retry_after=3)
    response = requests.get(zulip_server.base_url + "/api/v1/users/me", auth=(realm["bot"].email, realm["bot"].api_key))
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    assert bot_client.get_profile()["result"] == "success"


def test_server_errors_and_dropped_connections_are_retried_by_the_client(zulip_server, realm, bot_client):
    """A 502 and a dropped connection each cost one extra request, then the call succeeds."""
    zulip_server.fail_next(1, status=502, path_prefix="/users/me")
    zulip_server.drop_next(1, path_prefix="/users/me")
    assert bot_client.get_profile()["email"] == realm["bot"].email
    assert zulip_server.count("GET /users/me") == 3


def test_drop_cuts_a_long_poll_without_an_answer(zulip_server, realm, bot_client):
    """A dropped GET /events closes the connection mid-poll; the queue still works afterwards."""
    queue = bot_client.register(event_types=["message"])
    zulip_server.drop_next(1, path_prefix="/events", after=0.2)
    auth = (realm["bot"].email, realm["bot"].api_key)
    with pytest.raises(requests.ConnectionError):
        requests.get(zulip_server.base_url + "/api/v1/events", auth=auth, timeout=5,
                     params={"queue_id": queue["queue_id"], "last_event_id": -1})
    events = bot_client.get_events(queue_id=queue["queue_id"], last_event_id=-1, dont_block=True)["events"]
    assert events == [] and zulip_server.count("GET /events") == 2


def test_a_late_answer_is_carried_out_though_the_client_gave_up(zulip_server, realm, bot_client):
    """A busy server: the send is done at once, its answer comes after the client's timeout."""
    zulip_server.answer_late_next(1, after=1.0, path_prefix="/messages")
    with pytest.raises(requests.ReadTimeout):
        bot_client.call_endpoint("messages", request={"type": "stream", "to": "welcome", "topic": TOPIC,
                                                      "content": "slow but sent"}, timeout=0.3)
    assert [m.content for m in zulip_server.messages_sent_by(realm["bot"])] == ["slow but sent"]
    assert bot_client.get_profile()["result"] == "success"  # the server serves on


def test_stop_and_start_keep_port_and_state(zulip_server, realm, bot_client):
    """While stopped the server refuses connections; restarted, it is on the same port with the same messages."""
    sent = zulip_server.send_stream_message(realm["alice"], "welcome", TOPIC, "still here")
    port = zulip_server.port
    zulip_server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(zulip_server.base_url + "/api/v1/server_settings", timeout=5)
    zulip_server.start()
    assert zulip_server.port == port
    assert bot_client.get_raw_message(sent)["raw_content"] == "still here"


def test_wrong_requests_are_recorded_as_spec_violations(zulip_server, realm, bot_client):
    """An unknown parameter (channel for stream), a missing queue_id and an unknown endpoint are flagged."""
    bot_client.call_endpoint("get_stream_id", method="GET", request={"channel": "welcome"})
    bot_client.call_endpoint("events", method="GET", request={"last_event_id": -1, "dont_block": True})
    bot_client.call_endpoint("no_such_endpoint", method="GET")
    violations = zulip_server.take_violations()
    assert any("unknown parameter 'channel'" in v for v in violations)
    assert any("missing required parameter 'stream'" in v for v in violations)
    assert any("missing required parameter 'queue_id'" in v for v in violations)
    assert any("no_such_endpoint" in v for v in violations)


def test_response_checker_catches_unknown_fields(zulip_spec):
    """A GET /messages body with a field the spec does not list is a violation; a correct one is not."""
    operation, _ = zulip_spec.match("GET", "/messages")
    body = {"result": "success", "msg": "", "anchor": 1, "found_anchor": False, "found_oldest": True,
            "found_newest": True, "history_limited": False, "messages": []}
    assert operation.check_response(200, body) == []
    assert operation.check_response(200, {**body, "channel_id": 3})


def test_upload_round_trip(zulip_server, realm, bot_client):
    """An uploaded PNG gets a /user_uploads/ uri that serves the same bytes."""
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    upload = io.BytesIO(data)
    upload.name = "map preview.png"
    uri = bot_client.upload_file(upload)["uri"]
    assert uri.startswith("/user_uploads/1/") and uri.endswith("/map_preview.png")
    assert requests.get(zulip_server.base_url + uri, timeout=5).content == data
    assert zulip_server.uploads[uri].data == data


def test_private_stream_subscription_check(zulip_server, realm, bot_client):
    """The bot cannot see a private stream it is not in; its subscriber can, and is subscribed."""
    alice = zulip_server.client(realm["alice"])
    secret = zulip_server.realm.stream("secret").stream_id
    status = f"users/{realm['alice'].user_id}/subscriptions/{secret}"
    assert bot_client.call_endpoint(status, method="GET")["result"] == "error"
    assert alice.call_endpoint(status, method="GET")["is_subscribed"] is True
    assert bot_client.get_stream_id("secret")["msg"] == "Invalid stream name 'secret'"
    assert alice.get_stream_id("secret")["stream_id"] == secret
    assert [s["name"] for s in bot_client.get_subscriptions()["subscriptions"]] == ["welcome"]


def test_direct_messages_and_dm_narrow(zulip_server, realm, bot_client):
    """A DM sent to a list of user ids is found with the dm narrow and recorded as sent by the bot."""
    sent = bot_client.send_message({"type": "direct", "to": [realm["alice"].user_id], "content": "hi"})["id"]
    found = bot_client.get_messages({"anchor": "newest", "num_before": 5, "num_after": 0,
                                     "narrow": [{"operator": "dm", "operand": realm["alice"].email}]})
    assert [m["id"] for m in found["messages"]] == [sent]
    assert found["messages"][0]["type"] == "private"
    assert [m.id for m in zulip_server.messages_sent_by(realm["bot"])] == [sent]


def test_bad_api_key_is_rejected(zulip_server, realm):
    """A wrong API key gets the 401 error shape."""
    import zulip

    client = zulip.Client(email=realm["bot"].email, api_key="wrong", site=zulip_server.base_url)
    assert client.get_profile()["code"] == "INVALID_API_KEY"


# ---- where the model was wrong about the real server (found by tests/real_zulip) -------


def test_register_requires_notification_settings_null(bot_client):
    """Zulip has required `client_capabilities["notification_settings_null"]` since 2.1."""
    refused = bot_client.register(event_types=["message"], client_capabilities={"bulk_message_deletion": True})
    assert refused["result"] == "error"
    assert refused["msg"] == 'client_capabilities["notification_settings_null"] field is missing: Field required'
    accepted = bot_client.register(event_types=["message"],
                                   client_capabilities={"notification_settings_null": False})
    assert accepted["result"] == "success"


def test_people_are_shown_with_a_placeholder_email(zulip_server, realm, bot_client):
    """With Zulip's default email visibility the API shows `user<id>@<host>`, not the address a
    person signs in with; sending to the real address fails, as on a real server."""
    bob = realm["bob"]
    [shown] = [m for m in bot_client.get_members()["members"] if m["user_id"] == bob.user_id]
    assert shown["email"] == f"user{bob.user_id}@zulip.test" != "bob@zulip.test"
    refused = bot_client.send_message({"type": "private", "to": ["bob@zulip.test"], "content": "hi"})
    assert refused["msg"] == "Invalid email 'bob@zulip.test'"
    sent = zulip_server.client(bob).send_message({"type": "stream", "to": "welcome", "topic": TOPIC, "content": "hi"})
    found = bot_client.get_messages({"anchor": sent["id"], "num_before": 0, "num_after": 0, "narrow": []})
    assert found["messages"][0]["sender_email"] == shown["email"]


def test_dm_narrow_with_a_list_takes_integer_ids_only(zulip_server, realm, bot_client):
    """`{"operator": "dm", "operand": [...]}` must hold user ids: emails answer 400."""
    narrow = [{"operator": "dm", "operand": [realm["alice"].email]}]
    refused = bot_client.get_messages({"anchor": "newest", "num_before": 5, "num_after": 0, "narrow": narrow})
    assert refused["result"] == "error" and "is not an integer" in refused["msg"]
    assert zulip_server.take_violations()  # the spec says so too
    narrow = [{"operator": "dm", "operand": [realm["alice"].user_id]}]
    assert bot_client.get_messages({"anchor": "newest", "num_before": 5, "num_after": 0,
                                    "narrow": narrow})["result"] == "success"


def test_mentions_set_the_flag_and_the_is_mentioned_narrow(zulip_server, realm, bot_client):
    """`@**Name**` mentions (not silent `@_**Name**` ones) are found with `is:mentioned`."""
    alice = zulip_server.client(realm["alice"])
    loud = alice.send_message({"type": "stream", "to": "welcome", "topic": "chat", "content": "hey @**Map Bot** help"})
    alice.send_message({"type": "stream", "to": "welcome", "topic": "chat", "content": "quiet @_**Map Bot** here"})
    alice.send_message({"type": "stream", "to": "welcome", "topic": "chat", "content": "no mention"})
    found = bot_client.get_messages({"anchor": "oldest", "num_before": 0, "num_after": 100,
                                     "narrow": [{"operator": "is", "operand": "mentioned"}]})
    assert [m["id"] for m in found["messages"]] == [loud["id"]]
    assert "mentioned" in found["messages"][0]["flags"]


def test_a_guest_reads_only_streams_they_are_in(zulip_server, realm):
    """A guest cannot read a public stream they are not subscribed to."""
    guest = zulip_server.add_user("Gia Guest", guest=True)
    client = zulip_server.client(guest)
    assert client.get_profile()["is_guest"] is True
    assert "welcome" not in [s["name"] for s in client.get_streams()["streams"]]
    found = client.get_messages({"anchor": "newest", "num_before": 5, "num_after": 0,
                                 "narrow": [{"operator": "stream", "operand": "welcome"}]})
    assert found.get("messages", []) == []
