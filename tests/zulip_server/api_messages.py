"""Handlers for messages and events: one function per operation of the spec."""

from __future__ import annotations

from .narrow import matches, parse_narrow
from .realm import ApiError

MAX_MESSAGES = 5000
MAX_MESSAGE_LENGTH = 10_000  # Zulip's settings.MAX_MESSAGE_LENGTH (server_settings: max_message_length)
TRUNCATED = "\n[message truncated]"  # what Zulip's truncate_content puts at the end of a longer one
NEWEST_ANCHOR = 10_000_000_000_000_000


def post_messages(server, req) -> dict:
    p = req.params
    kind, to, content = p["type"], p["to"], _truncated(str(p["content"]))
    if kind == "stream":
        target = to[0] if isinstance(to, list) and len(to) == 1 else to
        if "topic" not in p:
            raise ApiError("Missing topic", "REQUEST_VARIABLE_MISSING", var_name="topic")
        message = server.actions.send_stream_message(req.user, target, str(p["topic"]), content)
    else:
        targets = to if isinstance(to, list) else [t.strip() for t in str(to).split(",") if t.strip()]
        message = server.actions.send_dm(req.user, targets, content)
    return {"id": message.id}


def _truncated(content: str) -> str:
    """Zulip keeps a longer message's first 10,000 characters, ending with TRUNCATED."""
    if len(content) <= MAX_MESSAGE_LENGTH:
        return content
    return content[:MAX_MESSAGE_LENGTH - len(TRUNCATED)] + TRUNCATED


def get_messages(server, req) -> dict:
    p = req.params
    num_before, num_after = p["num_before"], p["num_after"]
    if num_before + num_after > MAX_MESSAGES:
        raise ApiError(f"Too many messages requested (maximum {MAX_MESSAGES}).")
    terms = parse_narrow(p.get("narrow", []))
    realm = server.realm
    with realm.lock:
        ids = sorted(m.id for m in realm.messages.values()
                     if realm.can_see(req.user, m) and matches(realm, req.user, m, terms))
        anchor = _anchor(p.get("anchor", "newest"), ids)
        before = [i for i in ids if i < anchor]
        after = [i for i in ids if i > anchor]
        found_anchor = anchor in ids and p.get("include_anchor", True)
        chosen = before[len(before) - num_before:] if num_before else []
        chosen += [anchor] if found_anchor else []
        chosen += after[:num_after]
        markdown = p.get("apply_markdown", True)
        messages = [{**realm.message_dict(realm.messages[i], markdown),
                     "flags": ["read", *realm.flags(req.user, realm.messages[i])]} for i in chosen]
    return {"anchor": anchor, "found_anchor": bool(found_anchor), "found_oldest": len(before) <= num_before,
            "found_newest": len(after) <= num_after, "history_limited": False, "messages": messages}


def _anchor(value, ids: list[int]) -> int:
    if value == "oldest":
        return 0
    if value in ("newest", "first_unread"):  # nothing is unread here
        return ids[-1] if ids else NEWEST_ANCHOR
    if isinstance(value, int) and value >= 0:
        return value
    raise ApiError(f"Invalid anchor {value!r}")


def get_message(server, req) -> dict:
    message = server.realm.message(int(req.path_args["message_id"]), req.user)
    body = server.realm.message_dict(message, req.params.get("apply_markdown", True))
    return {"message": {**body, "flags": ["read"]}, "raw_content": message.content}


def patch_message(server, req) -> dict:
    p = req.params
    message = server.realm.message(int(req.path_args["message_id"]), req.user)
    if "content" in p and message.sender_id != req.user.user_id:
        raise ApiError("You don't have permission to edit this message")
    server.actions.edit_message(message.id, p.get("content"), p.get("topic"), p.get("stream_id"),
                                editor=req.user, propagate_mode=p.get("propagate_mode", "change_one"))
    return {}


def add_reaction(server, req) -> dict:
    message = server.realm.message(int(req.path_args["message_id"]), req.user)
    reaction = {"emoji_name": str(req.params["emoji_name"]), "user_id": req.user.user_id}
    with server.realm.lock:
        if reaction in message.reactions:
            raise ApiError("Reaction already exists.", "REACTION_ALREADY_EXISTS")
        message.reactions.append(reaction)
    return {}


def delete_message(server, req) -> dict:
    message = server.realm.message(int(req.path_args["message_id"]), req.user)
    if message.sender_id != req.user.user_id and not req.user.is_bot:
        raise ApiError("You don't have permission to delete this message")
    server.actions.delete_message(message.id)
    return {}


CLIENT_CAPABILITIES = {  # Zulip's ClientCapabilities: one key required since 2.1, by accident
    "notification_settings_null": True, "bulk_message_deletion": False,
    "user_avatar_url_field_optional": False, "stream_typing_notifications": False,
    "user_settings_object": False, "linkifier_url_template": False, "user_list_incomplete": False,
    "include_deactivated_groups": False, "archived_channels": False, "empty_topic_name": False,
}


def _check_client_capabilities(value) -> None:
    """Validate `client_capabilities` as Zulip's typed endpoint does (pydantic)."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise ApiError("client_capabilities is not a dict")
    for key, required in CLIENT_CAPABILITIES.items():
        if key not in value:
            if required:
                raise ApiError(f'client_capabilities["{key}"] field is missing: Field required')
        elif not isinstance(value[key], bool):
            raise ApiError(f'client_capabilities["{key}"] is not a boolean')


def register(server, req) -> dict:
    p = req.params
    _check_client_capabilities(p.get("client_capabilities"))
    queue = server.actions.register(req.user, p.get("event_types"), p.get("narrow", []),
                                    bool(p.get("all_public_streams", False)), bool(p.get("apply_markdown", False)))
    return {"queue_id": queue.queue_id, "last_event_id": -1, "max_message_id": max(server.realm.messages, default=-1),
            **server.version_fields()}


def get_events(server, req) -> dict:
    p = req.params
    events = server.queues.poll(str(p["queue_id"]), req.user.user_id, int(p.get("last_event_id", -1)),
                                bool(p.get("dont_block", False)), server.stopping)
    return {"events": events, "queue_id": p["queue_id"]}


def delete_events(server, req) -> dict:
    server.queues.delete(str(req.params["queue_id"]), req.user.user_id)
    return {}


def typing(server, req) -> dict:
    return {}


HANDLERS = {
    "POST /messages": post_messages,
    "GET /messages": get_messages,
    "GET /messages/{message_id}": get_message,
    "PATCH /messages/{message_id}": patch_message,
    "DELETE /messages/{message_id}": delete_message,
    "POST /messages/{message_id}/reactions": add_reaction,
    "POST /register": register,
    "GET /events": get_events,
    "DELETE /events": delete_events,
    "POST /typing": typing,
}
