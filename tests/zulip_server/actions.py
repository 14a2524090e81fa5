"""What changes the realm and tells the event queues: send, edit, delete, register."""

from __future__ import annotations

import time

from .events import EventQueues
from .narrow import matches, parse_narrow
from .realm import ApiError, Message, Realm, User, render


class Actions:
    """The realm's write operations; each one delivers its events."""

    def __init__(self, realm: Realm, queues: EventQueues):
        self.realm, self.queues = realm, queues

    def send_stream_message(self, sender, stream, topic: str, content: str) -> Message:
        sender, stream = self.realm.user(sender), self.realm.stream(stream)
        if not topic.strip():
            raise ApiError("Topic can't be empty!")
        if stream.invite_only and sender.user_id not in stream.subscribers:
            raise ApiError(f"Not authorized to send to stream '{stream.name}'", "BAD_REQUEST")
        return self._deliver_new(self.realm.add_message(sender, content, stream, topic))

    def send_dm(self, sender, to, content: str) -> Message:
        sender = self.realm.user(sender)
        targets = to if isinstance(to, (list, tuple)) else [to]
        if not targets:
            raise ApiError("Message must have recipients")
        ids = {self.realm.user(t).user_id for t in targets} | {sender.user_id}
        return self._deliver_new(self.realm.add_message(sender, content, recipients=tuple(ids)))

    def _deliver_new(self, message: Message) -> Message:
        def event_for(queue) -> dict | None:
            if not queue.wants_message(message.id):
                return None
            viewer = self.realm.users[queue.user_id]
            return {"type": "message", "message": self.realm.message_dict(message, queue.apply_markdown),
                    "flags": self.realm.flags(viewer, message)}

        self.queues.deliver("message", self._audience(message), event_for)
        return message

    def subscribe(self, user, stream, subscription: dict) -> None:
        """Add ``user`` to ``stream`` and tell them (``subscription``: the object Zulip sends)."""
        user, stream = self.realm.user(user), self.realm.stream(stream)
        if user.user_id in stream.subscribers:
            return
        stream.subscribers.add(user.user_id)
        event = {"type": "subscription", "op": "add", "subscriptions": [subscription]}
        self.queues.deliver("subscription", {user.user_id}, lambda queue: dict(event))

    def unsubscribe(self, user, stream) -> None:
        """Take ``user`` off ``stream``; whoever reads the stream gets ``peer_remove``."""
        user, stream = self.realm.user(user), self.realm.stream(stream)
        stream.subscribers.discard(user.user_id)
        event = {"type": "subscription", "op": "peer_remove", "stream_ids": [stream.stream_id],
                 "user_ids": [user.user_id]}
        readers = {u.user_id for u in self.realm.users.values() if self.realm.can_read(u, stream)}
        self.queues.deliver("subscription", readers, lambda queue: dict(event))

    def deactivate(self, user) -> None:
        """Deactivate ``user``: off every stream (``peer_remove``), then, as at feature level
        218, ``realm_user`` ``remove`` to everyone (level 222+ sends ``update`` with
        ``is_active: false`` instead; the bot reads both)."""
        user = self.realm.user(user)
        for stream in list(self.realm.streams.values()):
            if user.user_id in stream.subscribers:
                self.unsubscribe(user, stream)
        user.is_active = False
        event = {"type": "realm_user", "op": "remove",
                 "person": {"user_id": user.user_id, "full_name": user.full_name}}
        active = {u.user_id for u in self.realm.users.values() if u.is_active}
        self.queues.deliver("realm_user", active, lambda queue: dict(event))

    def reactivate(self, user) -> None:
        """Reactivate ``user``: as at feature level 218, a ``realm_user`` ``add`` event."""
        user = self.realm.user(user)
        user.is_active = True
        event = {"type": "realm_user", "op": "add", "person": user.summary()}
        active = {u.user_id for u in self.realm.users.values() if u.is_active}
        self.queues.deliver("realm_user", active, lambda queue: dict(event))

    def _audience(self, message: Message) -> set[int]:
        return {u.user_id for u in self.realm.users.values() if self.realm.can_see(u, message)}

    def edit_message(self, message_id: int, content: str | None = None, topic: str | None = None,
                     stream=None, editor=None, propagate_mode: str = "change_one") -> Message:
        """Change content, topic and/or stream; delivers an ``update_message`` event."""
        with self.realm.lock:
            message = self.realm.messages.get(message_id)
            if message is None:
                raise ApiError("Invalid message(s)")
            editor = self.realm.user(editor) if editor is not None else self.realm.users[message.sender_id]
            new_stream = self.realm.stream(stream) if stream is not None else None
            event = self._update_event(message, editor, content, topic, new_stream, propagate_mode)
            self._apply_edit(message, editor, content, topic, new_stream, event["edit_timestamp"])
        self.queues.deliver("update_message", self._audience(message), lambda queue: dict(event))
        return message

    def _update_event(self, message, editor, content, topic, new_stream, propagate_mode) -> dict:
        event = {"type": "update_message", "user_id": editor.user_id, "message_id": message.id,
                 "message_ids": [message.id], "flags": [], "edit_timestamp": int(time.time()),
                 "rendering_only": False}
        if content is not None:
            event.update(orig_content=message.content, content=content,
                         orig_rendered_content=render(message.content), rendered_content=render(content),
                         prev_rendered_content_version=1, is_me_message=content.startswith("/me "))
        if message.type == "stream":
            event.update(stream_id=message.stream_id, stream_name=self.realm.streams[message.stream_id].name)
            if topic is not None or new_stream is not None:
                event.update(orig_subject=message.topic, propagate_mode=propagate_mode)
            if topic is not None:
                event.update(subject=topic, topic_links=[])
            if new_stream is not None:
                event["new_stream_id"] = new_stream.stream_id
        return event

    def _apply_edit(self, message, editor, content, topic, new_stream, timestamp) -> None:
        entry = {"user_id": editor.user_id, "timestamp": timestamp}
        if content is not None:
            entry.update(prev_content=message.content, prev_rendered_content=render(message.content),
                         prev_rendered_content_version=1)
            message.content = content
        if topic is not None:
            entry.update(prev_topic=message.topic, topic=topic)
            message.topic = topic
        if new_stream is not None:
            entry.update(prev_stream=message.stream_id, stream=new_stream.stream_id)
            message.stream_id = new_stream.stream_id
        message.edit_history.append(entry)
        message.last_edit_timestamp = timestamp

    def delete_message(self, message_id: int) -> None:
        """Remove a message; delivers a ``delete_message`` event."""
        with self.realm.lock:
            message = self.realm.messages.get(message_id)
            if message is None:
                raise ApiError("Invalid message(s)")
            audience = self._audience(message)
            del self.realm.messages[message_id]
        event = {"type": "delete_message", "message_id": message.id, "message_ids": [message.id],
                 "message_type": message.type}
        if message.type == "stream":
            event.update(stream_id=message.stream_id, topic=message.topic)
        self.queues.deliver("delete_message", audience, lambda queue: dict(event))

    def register(self, user: User, event_types, narrow, all_public_streams: bool, apply_markdown: bool = False):
        """Create an event queue for ``user`` filtered by event types and narrow."""
        terms = parse_narrow(narrow)

        def wants_message(message_id: int) -> bool:
            stored = self.realm.messages.get(message_id)
            if stored is None:
                return False
            if stored.type == "stream" and not all_public_streams:
                if user.user_id not in self.realm.streams[stored.stream_id].subscribers:
                    return False
            return matches(self.realm, user, stored, terms)

        return self.queues.register(user.user_id, event_types, wants_message, apply_markdown)
