"""In-memory state of one Zulip realm: users, streams, messages, uploads."""

from __future__ import annotations

import html
import itertools
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

REALM_HOST = "zulip.test"
MENTION = re.compile(r"(?<![_\w])@\*\*([^*|]+?)(?:\|(\d+))?\*\*")


def render(content: str) -> str:
    """Stand-in for Zulip's Markdown renderer: the escaped text in one paragraph."""
    return f"<p>{html.escape(content)}</p>"


class ApiError(Exception):
    """An error the API answers with ``{"result": "error", "code": ..., "msg": ...}``."""

    def __init__(self, msg: str, code: str = "BAD_REQUEST", status: int = 400, **extra):
        super().__init__(msg)
        self.msg, self.code, self.status, self.extra = msg, code, status, extra

    def body(self) -> dict:
        return {"result": "error", "msg": self.msg, "code": self.code, **self.extra}


ROLE_MEMBER, ROLE_GUEST = 400, 600


@dataclass
class User:
    """`delivery_email` is the address the person signs in with; `email` is what the API
    shows everyone: with Zulip's default email visibility (admins only), a placeholder
    `user<id>@<realm host>` for people, while a bot's own address is always shown."""

    user_id: int
    delivery_email: str
    full_name: str
    api_key: str
    is_bot: bool = False
    role: int = ROLE_MEMBER
    is_active: bool = True
    bot_type: int = 1  # for bots: 1 generic, 2 incoming webhook, 3 outgoing webhook, 4 embedded

    @property
    def email(self) -> str:
        return self.delivery_email if self.is_bot else f"user{self.user_id}@{REALM_HOST}"

    @property
    def is_guest(self) -> bool:
        return self.role == ROLE_GUEST

    def summary(self) -> dict:
        """The user object of GET /users and GET /users/{id} (a spec-conforming subset)."""
        return {
            "user_id": self.user_id, "email": self.email, "full_name": self.full_name,
            "is_bot": self.is_bot, "is_admin": False, "is_owner": False, "is_guest": self.is_guest,
            "is_billing_admin": False, "role": self.role, "is_active": self.is_active,
            "avatar_url": f"https://secure.gravatar.com/avatar/{self.user_id}?d=identicon",
            "avatar_version": 1, "timezone": "", "date_joined": "2023-01-01T00:00:00+00:00",
            **({"bot_type": self.bot_type, "bot_owner_id": None} if self.is_bot else {}),
        }


@dataclass
class Stream:
    stream_id: int
    name: str
    invite_only: bool = False
    subscribers: set[int] = field(default_factory=set)
    description: str = ""
    history_public_to_subscribers: bool = True
    is_web_public: bool = False


@dataclass
class Message:
    id: int
    sender_id: int
    type: str  # "stream" or "private"
    content: str
    timestamp: int
    stream_id: int | None = None
    topic: str = ""
    recipients: tuple[int, ...] = ()  # direct messages: every participant, sender included
    edit_history: list[dict] = field(default_factory=list)
    last_edit_timestamp: int | None = None
    reactions: list[dict] = field(default_factory=list)  # {"emoji_name", "user_id"}


@dataclass
class Upload:
    path: str  # "/user_uploads/1/ab/token/name.png"
    filename: str
    data: bytes
    content_type: str
    owner_id: int


class Realm:
    """Users, streams, messages and uploads, guarded by one lock."""

    realm_id = 1

    def __init__(self):
        self.lock = threading.RLock()
        self.users: dict[int, User] = {}
        self.streams: dict[int, Stream] = {}
        self.messages: dict[int, Message] = {}
        self.uploads: dict[str, Upload] = {}
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    def add_user(self, email: str, full_name: str, is_bot: bool = False, api_key: str | None = None,
                 role: int = ROLE_MEMBER) -> User:
        with self.lock:
            user = User(self.next_id(), email, full_name, api_key or secrets.token_hex(16), is_bot, role)
            self.users[user.user_id] = user
            return user

    def add_stream(self, name: str, invite_only: bool = False, subscribers=()) -> Stream:
        with self.lock:
            stream = Stream(self.next_id(), name, invite_only, {self.user(s).user_id for s in subscribers})
            self.streams[stream.stream_id] = stream
            return stream

    def user(self, ref: int | str | User) -> User:
        """A user by object, id or the email the API shows (never the sign-in address,
        as on a real server); ApiError when unknown."""
        if isinstance(ref, User):
            return ref
        for user in self.users.values():
            if ref in (user.user_id, user.email) or (isinstance(ref, str) and ref == str(user.user_id)):
                return user
        raise ApiError(f"Invalid user ID {ref}" if isinstance(ref, int) else f"Invalid email '{ref}'")

    def stream(self, ref: int | str | Stream) -> Stream:
        """A stream by object, id or name; ApiError (STREAM_DOES_NOT_EXIST) when unknown."""
        if isinstance(ref, Stream):
            return ref
        for stream in self.streams.values():
            if ref in (stream.stream_id, stream.name):
                return stream
        if isinstance(ref, int):
            raise ApiError("Invalid stream ID", "BAD_REQUEST")
        raise ApiError(f"Stream '{ref}' does not exist", "STREAM_DOES_NOT_EXIST", stream=str(ref))

    def authenticate(self, email: str, api_key: str) -> User | None:
        user = next((u for u in self.users.values() if u.delivery_email == email), None)
        return user if user and secrets.compare_digest(user.api_key, api_key) else None

    def can_read(self, user: User, stream: Stream) -> bool:
        """Zulip's rule: subscribers read any stream; other members read public ones;
        a guest reads only the streams they are subscribed to."""
        return user.user_id in stream.subscribers or not (stream.invite_only or user.is_guest)

    def can_see(self, user: User, message: Message) -> bool:
        if message.type == "private":
            return user.user_id in message.recipients
        return self.can_read(user, self.streams[message.stream_id])

    def mentioned(self, message: Message) -> set[int]:
        """Users the message @-mentions by name (`@**Name**`, `@**Name|id**`); silent
        mentions (`@_**Name**`) mention no one."""
        found = set()
        for name, user_id in MENTION.findall(message.content):
            for user in self.users.values():
                if (str(user.user_id) == user_id) if user_id else user.full_name.casefold() == name.casefold():
                    found.add(user.user_id)
        return found

    def flags(self, user: User, message: Message) -> list[str]:
        return ["mentioned"] if user.user_id in self.mentioned(message) else []

    def message(self, message_id: int, viewer: User) -> Message:
        found = self.messages.get(message_id)
        if found is None or not self.can_see(viewer, found):
            raise ApiError("Invalid message(s)", "BAD_REQUEST")
        return found

    def message_dict(self, message: Message, apply_markdown: bool = True) -> dict:
        """A message object as GET /messages and message events carry it."""
        sender = self.users[message.sender_id]
        content = render(message.content) if apply_markdown else message.content
        out = {
            "id": message.id, "sender_id": sender.user_id, "sender_full_name": sender.full_name,
            "sender_email": sender.email, "sender_realm_str": "zulip", "avatar_url": None,
            "client": "ZulipPython", "content": content,
            "content_type": "text/html" if apply_markdown else "text/x-markdown",
            "type": message.type, "subject": message.topic, "timestamp": message.timestamp,
            "is_me_message": message.content.startswith("/me "), "reactions": [],
            "submessages": [], "topic_links": [], "recipient_id": self._recipient_id(message),
            "display_recipient": self._display_recipient(message),
        }
        if message.type == "stream":
            out["stream_id"] = message.stream_id
        if message.edit_history:
            out["edit_history"] = list(reversed(message.edit_history))
            out["last_edit_timestamp"] = message.last_edit_timestamp
        return out

    def _display_recipient(self, message: Message):
        if message.type == "stream":
            return self.streams[message.stream_id].name
        people = [self.users[i] for i in message.recipients]
        return [{"id": u.user_id, "email": u.email, "full_name": u.full_name, "is_mirror_dummy": False}
                for u in people]

    def _recipient_id(self, message: Message) -> int:
        if message.type == "stream":
            return 100000 + message.stream_id
        return 200000 + hash(message.recipients) % 100000

    def add_message(self, sender: User, content: str, stream: Stream | None = None,
                    topic: str = "", recipients: tuple[int, ...] = ()) -> Message:
        """Store a new message; the caller delivers its event."""
        if not content.strip():
            raise ApiError("Message must not be empty")
        with self.lock:
            message = Message(self.next_id(), sender.user_id, "stream" if stream else "private",
                              content, int(time.time()), stream.stream_id if stream else None,
                              topic, tuple(sorted(recipients)))
            self.messages[message.id] = message
            return message
