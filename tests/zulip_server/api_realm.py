"""Handlers for the server, users, streams, subscriptions and uploads."""

from __future__ import annotations

import re
import secrets

from .realm import ApiError


def server_settings(server, req) -> dict:
    return {"authentication_methods": {"password": True, "dev": False}, "external_authentication_methods": [],
            "push_notifications_enabled": False, "is_incompatible": False, "email_auth_enabled": True,
            "require_email_format_usernames": True, "realm_uri": server.base_url, "realm_name": "Test realm",
            "realm_icon": "/static/images/logo/zulip-icon-128x128.png", "realm_description": "",
            "realm_web_public_access_enabled": False, **server.version_fields()}


def users_me(server, req) -> dict:
    me = {k: v for k, v in req.user.summary().items() if k not in ("bot_type", "bot_owner_id")}
    me["delivery_email"] = req.user.delivery_email  # one's own address; others' stay hidden
    return {**me, "max_message_id": max(server.realm.messages, default=-1)}


def users(server, req) -> dict:
    return {"members": [u.summary() for u in server.realm.users.values()]}


def user_by_id(server, req) -> dict:
    return {"user": server.realm.user(int(req.path_args["user_id"])).summary()}


def user_by_email(server, req) -> dict:
    return {"user": server.realm.user(req.path_args["email"]).summary()}


def _stream_dict(stream) -> dict:
    return {"stream_id": stream.stream_id, "name": stream.name, "description": stream.description,
            "rendered_description": f"<p>{stream.description}</p>" if stream.description else "",
            "invite_only": stream.invite_only, "is_web_public": stream.is_web_public,
            "history_public_to_subscribers": stream.history_public_to_subscribers,
            "first_message_id": None, "message_retention_days": None, "date_created": 1672531200,
            "stream_post_policy": 1, "is_announcement_only": False, "can_remove_subscribers_group": 1,
            "stream_weekly_traffic": None}


def _visible_streams(server, user):
    return [s for s in server.realm.streams.values() if server.realm.can_read(user, s)]


def streams(server, req) -> dict:
    return {"streams": [_stream_dict(s) for s in _visible_streams(server, req.user)]}


def get_stream_id(server, req) -> dict:
    name = str(req.params["stream"])
    found = [s for s in _visible_streams(server, req.user) if s.name == name]
    if not found:  # unknown and invisible streams answer alike
        raise ApiError(f"Invalid stream name '{name}'")
    return {"stream_id": found[0].stream_id}


def subscriptions(server, req) -> dict:
    mine = [s for s in server.realm.streams.values() if req.user.user_id in s.subscribers]
    with_subscribers = req.params.get("include_subscribers", False)
    return {"subscriptions": [subscription_object(s, with_subscribers) for s in mine]}


def subscription_object(stream, with_subscribers) -> dict:
    body = {**_stream_dict(stream), "color": "#76ce90", "is_muted": False, "pin_to_top": False,
            "desktop_notifications": None, "audible_notifications": None, "push_notifications": None,
            "email_notifications": None, "wildcard_mentions_notify": None, "in_home_view": True,
            "email_address": f"{stream.name}@zulip.test"}
    if with_subscribers:
        body["subscribers"] = sorted(stream.subscribers)
    return body


def subscription_status(server, req) -> dict:
    user = server.realm.user(int(req.path_args["user_id"]))
    stream = server.realm.stream(int(req.path_args["stream_id"]))
    if stream.invite_only and req.user.user_id not in stream.subscribers:
        raise ApiError("Invalid stream ID")
    return {"is_subscribed": user.user_id in stream.subscribers}


def stream_members(server, req) -> dict:
    stream = server.realm.stream(int(req.path_args["stream_id"]))
    if stream.invite_only and req.user.user_id not in stream.subscribers:
        raise ApiError("Invalid stream ID")
    return {"subscribers": sorted(stream.subscribers)}


def upload(server, req) -> dict:
    if len(req.files) != 1:
        raise ApiError("You must specify a file to upload" if not req.files else "You may only upload one file at a time")
    (filename, data, content_type), = req.files
    safe = re.sub(r"[^\w.-]", "_", filename.rsplit("/", 1)[-1]) or "file"
    path = f"/user_uploads/{server.realm.realm_id}/{secrets.token_hex(1)}/{secrets.token_urlsafe(12)}/{safe}"
    server.add_upload(path, safe, data, content_type, req.user.user_id)
    return {"uri": path}  # "url" is only sent from feature level 272 (Zulip 9.0) on


def upload_temporary_url(server, req) -> dict:
    path = f"/user_uploads/{req.path_args['realm_id_str']}/{req.path_args['filename']}"
    if path not in server.realm.uploads:
        raise ApiError("Invalid upload", "BAD_REQUEST")
    return {"url": path}


HANDLERS = {
    "GET /server_settings": server_settings,
    "GET /users/me": users_me,
    "GET /users": users,
    "GET /users/{user_id}": user_by_id,
    "GET /users/{email}": user_by_email,
    "GET /streams": streams,
    "GET /get_stream_id": get_stream_id,
    "GET /users/me/subscriptions": subscriptions,
    "GET /users/{user_id}/subscriptions/{stream_id}": subscription_status,
    "GET /streams/{stream_id}/members": stream_members,
    "POST /user_uploads": upload,
    "GET /user_uploads/{realm_id_str}/{filename}": upload_temporary_url,
}
