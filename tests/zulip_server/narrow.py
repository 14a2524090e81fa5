"""Zulip narrows: parse the two accepted shapes and test messages against them."""

from __future__ import annotations

from typing import Callable

from .realm import ApiError, Message, Realm, User

Term = tuple[str, object, bool]  # operator, operand, negated


def parse_narrow(narrow) -> list[Term]:
    """Accept ``[{"operator", "operand", "negated"?}]`` and ``[[operator, operand]]``."""
    if narrow in (None, ""):
        return []
    if not isinstance(narrow, list):
        raise ApiError("Invalid narrow")
    terms = []
    for term in narrow:
        if isinstance(term, dict) and {"operator", "operand"} <= term.keys():
            terms.append((term["operator"], term["operand"], bool(term.get("negated", False))))
        elif isinstance(term, (list, tuple)) and len(term) == 2:
            terms.append((term[0], term[1], False))
        else:
            raise ApiError(f"Invalid narrow term {term!r}")
    for operator, operand, _ in terms:
        if operator not in _OPERATORS:
            raise ApiError(f"Invalid narrow operator: unknown operator {operator}")
        if operator in ("dm", "pm-with") and isinstance(operand, list):
            for i, ref in enumerate(operand):
                if isinstance(ref, bool) or not isinstance(ref, int):
                    raise ApiError(f"Invalid narrow operator: operand[{i}] is not an integer")
    return terms


def matches(realm: Realm, viewer: User, message: Message, terms: list[Term]) -> bool:
    """Whether ``message`` satisfies every term of the narrow for ``viewer``."""
    return all(_OPERATORS[op](realm, viewer, message, operand) != negated for op, operand, negated in terms)


def _stream(realm, viewer, message, operand) -> bool:
    return message.type == "stream" and message.stream_id == realm.stream(operand).stream_id


def _streams(realm, viewer, message, operand) -> bool:
    return message.type == "stream" and not realm.streams[message.stream_id].invite_only


def _topic(realm, viewer, message, operand) -> bool:
    return message.type == "stream" and message.topic.lower() == str(operand).lower()


def _sender(realm, viewer, message, operand) -> bool:
    return message.sender_id == realm.user(operand).user_id


def _dm(realm, viewer, message, operand) -> bool:
    """A list operand must hold integer user ids, a text one the emails the API shows
    (comma-separated), as on a real server."""
    if isinstance(operand, list):
        refs = operand
    else:
        refs = [s.strip() for s in str(operand).split(",") if s.strip()]
    wanted = {realm.user(ref).user_id for ref in refs} | {viewer.user_id}
    return message.type == "private" and set(message.recipients) == wanted


def _is(realm, viewer, message, operand) -> bool:
    if operand in ("dm", "private"):
        return message.type == "private"
    if operand == "mentioned":
        return "mentioned" in realm.flags(viewer, message)
    raise ApiError(f"Invalid narrow operand is:{operand}")


def _search(realm, viewer, message, operand) -> bool:
    needle = str(operand).lower()
    return needle in message.content.lower() or needle in message.topic.lower()


def _id(realm, viewer, message, operand) -> bool:
    return message.id == int(operand)


_OPERATORS: dict[str, Callable] = {
    "stream": _stream, "channel": _stream, "streams": _streams, "topic": _topic,
    "sender": _sender, "dm": _dm, "pm-with": _dm, "is": _is, "search": _search, "id": _id,
}
