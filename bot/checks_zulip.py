"""The checks that ask Zulip: the server, the bot's account, each source, the post stream.

Read-only: nothing is sent, subscribed or changed. A server that cannot be reached is
tried twice, quickly, so `check` (and `run`'s start) answers in seconds, not minutes.
"""

from __future__ import annotations

import difflib
import logging

from bot.findings import Finding, ok, problem, warning
from bot.directory import Directory
from bot.zulip_io import RetryPolicy, ZulipError, ZulipIO

QUICK_RETRIES = RetryPolicy(base=0.5, ceiling=2.0, max_attempts=2)
ROLES = {100: "owner", 200: "administrator", 300: "moderator", 400: "member", 600: "guest"}
INCOMING_WEBHOOK = 2  # bot_type: 1 generic, 2 incoming webhook, 3 outgoing webhook, 4 embedded
ADMINS_ONLY, MODERATORS_ONLY = 2, 4  # stream_post_policy values (before can_send_message_group)


def check_zulip(settings, io: ZulipIO | None = None) -> list[Finding]:
    """Every Zulip finding; the later checks are skipped when the server cannot be used.
    (`run` passes the bot's own client, patient with a server still starting.)"""
    try:
        io = io or _quiet_client(settings)
        profile = io.call("get_profile")
    except ZulipError as exc:
        return [problem("server", f"{settings.api_site} cannot be used: {exc}")]
    except Exception as exc:  # a malformed site, say: the zulip client's own error, not a traceback
        return [problem("server", f"{settings.api_site!r} cannot be used: {type(exc).__name__}: {exc}")]
    found = [ok("server", f"{settings.api_site} answers, Zulip feature level {io.feature_level}, "
                f"logged in as {profile['full_name']}")]
    directory = Directory(io)
    try:
        me = directory.user(int(profile["user_id"])) or profile
        found.append(_role(me))
        subscribed = {int(s["stream_id"]) for s in io.call("get_subscriptions")["subscriptions"]}
        for source in settings.sources:
            found += _source(io, directory, source, subscribed)
        found += _post_stream(directory, settings, me, subscribed)
    except ZulipError as exc:
        found.append(problem("server", f"a request failed midway: {exc}"))
    return found


def _quiet_client(settings) -> ZulipIO:
    """A client that tries twice, quickly, without logging its retries: the finding says it."""
    retries = logging.getLogger("bot.zulip_io")
    level = retries.level
    retries.setLevel(logging.ERROR)
    try:
        return ZulipIO(str(settings.path), QUICK_RETRIES)
    finally:
        retries.setLevel(level)


def _role(me: dict) -> Finding:
    role = ROLES.get(me.get("role"), f"role {me.get('role')}")
    if me.get("bot_type") == INCOMING_WEBHOOK:
        return problem("account", "this is an incoming-webhook bot, which cannot read messages: "
                       "create a Generic bot and use its zuliprc")
    if not me.get("is_bot"):
        return warning("account", f"a person's account ({role}), not a bot: replies will come from them; "
                       "a Generic bot is the usual choice")
    if role == "guest":
        return warning("account", "the bot is a guest: it reads only the streams it is subscribed to")
    return ok("account", f"a bot with the role {role}")


def _source(io: ZulipIO, directory: Directory, source, subscribed: set[int]) -> list[Finding]:
    area = f"source {source.name}"
    stream = directory.stream_named(source.stream)
    if stream is None:
        return [problem(area, f"no stream #{source.stream} that the bot can see: a typo, or a private "
                        f"stream it is not subscribed to{_did_you_mean(directory, source.stream)}")]
    found = []
    if int(stream["stream_id"]) not in subscribed:
        found.append(problem(area, f"the bot is not subscribed to #{stream['name']}, so it hears no new "
                             "introductions: subscribe it (stream settings > Subscribers)"))
    if stream.get("invite_only") and not stream.get("history_public_to_subscribers", True):
        found.append(problem(area, f"#{stream['name']} hides its history from new subscribers: the bot "
                             "cannot read earlier introductions nor trust anyone to read them all. "
                             "In Zulip, let subscribers see the stream's whole history"))
    return found + [_readable(io, stream["name"], source, area)]


def _did_you_mean(directory: Directory, name: str) -> str:
    close = difflib.get_close_matches(name, directory.stream_names(), n=3, cutoff=0.6)
    return f" (did you mean {', '.join('#' + c for c in close)}?)" if close else ""


def _readable(io: ZulipIO, stream: str, source, area: str) -> Finding:
    """The bot can read the source's messages; a warning when there are none yet."""
    narrow = [{"operator": "stream", "operand": stream}]
    if source.topic:
        narrow.append({"operator": "topic", "operand": source.topic})
    try:
        messages = io.call("get_messages", {"anchor": "newest", "num_before": 200, "num_after": 0,
                                            "narrow": narrow, "apply_markdown": False})["messages"]
    except ZulipError as exc:
        return problem(area, f"the bot cannot read #{stream}: {exc}")
    if source.topic_pattern:
        messages = [m for m in messages if source.matches(stream, m.get("subject", ""))]
    if not messages:
        where = f"#{stream} > {source.topic}" if source.topic else f"#{stream}"
        pattern = f" matching {source.topic_pattern!r}" if source.topic_pattern else ""
        return warning(area, f"no messages yet in {where}{pattern} (among the latest 200): check the topic")
    return ok(area, f"#{stream} is readable and holds introductions")


def _post_stream(directory: Directory, settings, me: dict, subscribed: set[int]) -> list[Finding]:
    area, name = "post stream", settings.post_stream
    stream = directory.stream_named(name)
    if stream is None:
        return [problem(area, f"no stream #{name} that the bot can see (post_stream)"
                        f"{_did_you_mean(directory, name)}")]
    role = me.get("role", 400)
    policy = stream.get("stream_post_policy", 1)
    if (policy == ADMINS_ONLY and role > 200) or (policy == MODERATORS_ONLY and role > 300):
        return [problem(area, f"only {'administrators' if policy == ADMINS_ONLY else 'moderators'} may "
                        f"post in #{name}, and the bot is not one")]
    leaks = [s.stream for s in settings.sources if not directory.may_post(name, s.stream)]
    if leaks:
        return [problem(area, f"#{name} can be read by people who cannot read #{leaks[0]}, so the weekly "
                        "map would show them its introductions: post in the source stream instead")]
    if stream.get("invite_only") and int(stream["stream_id"]) not in subscribed:
        return [problem(area, f"the bot is not subscribed to the private stream #{name}")]
    return [ok(area, f"#{name} > {settings.post_topic}: the bot may post there")]
