"""Chat commands: which messages are commands, who may ask, and where the reply goes.

A command is a one-to-one direct message to the bot, or a stream or group message
that @-mentions it anywhere in the text (`zulip-run-bot` only sees mentions at the start). Replies go back
where the question was asked: a DM to the sender, or the same stream and topic; a
`FollowUp` reply sends its second message there too, once it is ready.
Commands run on a small worker pool, so a slow command never holds up the event loop.
"""

from __future__ import annotations

import logging
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

from bot.answers import Asker, Answerer, FollowUp
from bot.commands import parse
from bot.directory import Directory
from bot.zulip_io import ZulipIO, message_is_direct, message_is_stream

log = logging.getLogger(__name__)

NOT_ALLOWED = ("Sorry, I only answer people who can read {where}, where the introductions "
               "I map are posted.")
CONSENT_COMMANDS = frozenset({"opt_out", "opt_in"})
BROKEN = "Sorry, something went wrong on my side; the details are in my log."


class Dispatcher:
    """Turns command messages into replies; `submit` never raises."""

    def __init__(self, io: ZulipIO, directory: Directory, own_id: int, own_name: str,
                 sources, answerer_for: Callable[[object], Answerer],
                 on_consent: Callable[[], None] = lambda: None, workers: int = 2,
                 sources_of: Callable[[str], set[str]] = lambda user_id: set()):
        self.io = io
        self.directory = directory
        self.own_id = own_id
        self.own_name = own_name
        self.sources = list(sources)
        self.answerer_for = answerer_for
        self.on_consent = on_consent  # someone opted out or in: the map must be rebuilt
        self.sources_of = sources_of  # names of the sources a person has introduced themselves in
        self._mention = re.compile(r"@\*\*" + re.escape(own_name) + r"(?:\|\d+)?\*\*", re.IGNORECASE)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="command")
        self._latest: dict[int, Future] = {}  # each sender's last command, to keep their order
        self._order_lock = threading.Lock()

    def command_text(self, message: dict) -> str | None:
        """The command a message asks the bot, or None if it is not one."""
        sender = int(message.get("sender_id", 0))
        if sender == self.own_id:
            return None
        content = message.get("content", "")
        one_to_one = message_is_direct(message) and len(message.get("display_recipient", [])) <= 2
        if one_to_one or self._mention.search(content):  # streams and group DMs need a mention
            return None if self.directory.is_bot(sender) else content
        return None

    def submit(self, message: dict) -> Future | None:
        """Answer the message on the worker pool if it is a command. One person's commands
        are answered one at a time, in the order they came; other people's run alongside."""
        text = self.command_text(message)
        if text is None:
            return None
        sender, answered = int(message["sender_id"]), Future()

        def start(_previous: Future | None = None) -> None:
            self._pool.submit(lambda: answered.set_result(self._answer_and_reply(message, text)))

        with self._order_lock:
            previous, self._latest[sender] = self._latest.get(sender), answered
        answered.add_done_callback(lambda _: self._forget(sender, answered))
        if previous is None:
            start()
        else:
            previous.add_done_callback(start)
        return answered

    def _forget(self, sender: int, answered: Future) -> None:
        with self._order_lock:
            if self._latest.get(sender) is answered:
                del self._latest[sender]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _answer_and_reply(self, message: dict, text: str) -> str:
        try:
            reply = self.answer(message, text)
        except Exception:
            log.exception("Answering message %s failed", message.get("id"))
            reply = BROKEN
        self._send(message, reply)
        if isinstance(reply, FollowUp):  # a second reply, to the same place, when it is ready
            reply.later.add_done_callback(lambda later: self._send(message, later.result()))
        return reply

    def _send(self, message: dict, text: str) -> None:
        try:
            self.reply(message, text)
        except Exception:
            log.exception("Replying to message %s failed", message.get("id"))

    def answer(self, message: dict, text: str) -> str:
        source = self.source_for(message)
        sender = int(message["sender_id"])
        if not self.directory.can_read(sender, source.stream):
            log.info("Refused a command from user %s: cannot read %s", sender, source.stream)
            return NOT_ALLOWED.format(where=source.describe())
        asker = Asker(str(sender), message.get("sender_full_name", ""), message.get("sender_email", ""))
        parsed = parse(text, (self.own_name,))
        log.info("Command %s from user %s", parsed.name, sender)
        reply = self.answerer_for(source).answer(parsed, asker)
        if parsed.name in CONSENT_COMMANDS:
            self.on_consent()
        return reply

    def source_for(self, message: dict):
        """The source asked about: the one of the stream it was asked in; in a DM, the first
        source the sender introduced themselves in and can read; else the first source."""
        if message_is_stream(message):
            stream = message.get("display_recipient", "")
            for source in self.sources:
                if source.stream.casefold() == str(stream).casefold():
                    return source
        elif len(self.sources) > 1:
            sender = int(message["sender_id"])
            mine = self.sources_of(str(sender))
            for source in self.sources:
                if source.name in mine and self.directory.can_read(sender, source.stream):
                    return source
        return self.sources[0]

    def reply(self, message: dict, text: str) -> None:
        if message_is_stream(message):
            topic = message.get("subject", message.get("topic", ""))
            self.io.send_stream(message["display_recipient"], topic, text)
        else:
            self.io.send_direct([int(message["sender_id"])], text)
