"""Chat commands: which messages are commands, who may ask, and where the reply goes.

A command is a one-to-one direct message to the bot, or a stream or group message
that @-mentions it anywhere in the text (`zulip-run-bot` only sees mentions at the start). Replies go back
where the question was asked: a DM to the sender, or the same stream and topic when
everyone who can read that stream can read the source; otherwise by DM, with a line in
the stream saying so (``Directory.may_post`` is the rule). A `FollowUp` reply sends its
second message to the same place too, once it is ready.
Commands run on a small worker pool, so a slow command never holds up the event loop.
A reply that could not be sent is tried again later (``bot.redelivery``), and a
`refresh` stays in the inbox until its second reply is sent.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

from bot import metrics
from bot.answers import Asker, Answerer, FollowUp
from bot.commands import parse
from bot.directory import Directory
from bot.everywhere import asks_everywhere, gather
from bot.redelivery import Redelivery
from bot.fairness import SLOW_DOWN, Admission, CommandRate, ConsentCooldown
from bot.settings_parse import SettingsError
from bot.zulip_io import ZulipIO, message_is_direct, message_is_stream

log = logging.getLogger(__name__)

NOT_ALLOWED = ("Sorry, I only answer people who can read {where}, where the introductions "
               "I map are posted.")
UNNAMED_SOURCE = "the stream"  # a source named only to whoever may know it exists (issue 21.10)
CONSENT_COMMANDS = frozenset({"opt_out", "opt_in"})
# Opting out is never refused: whoever lost access (taken off the stream, made a guest, a
# source whose history is protected) may still have data stored. Opting in needs access.
ALWAYS_ALLOWED = frozenset({"opt_out"})
BROKEN = "Sorry, something went wrong on my side; the details are in my log."
TOO_SOON = ("You opted in a moment ago; to keep the map from rebuilding again and again, you "
            "can opt in again in {minutes} minute(s). (`opt out` always works.)")
SENT_BY_DM = ("I answered you in a direct message: not everyone here can read the "
              "introductions I map.")


class Dispatcher:
    """Turns command messages into replies; `submit` never raises."""

    def __init__(self, io: ZulipIO, directory: Directory, own_id: int, own_name: str,
                 sources, answerer_for: Callable[[object], Answerer],
                 on_consent: Callable[[], None] = lambda: None, workers: int = 2,
                 sources_of: Callable[[str], set[str]] = lambda user_id: set(), inbox=None,
                 rate: CommandRate | None = None, consent_cooldown: ConsentCooldown | None = None):
        self.io = io
        self.rate = rate or CommandRate(0)  # per person; none by default
        self.consent_cooldown = consent_cooldown or ConsentCooldown(0)
        self.inbox = inbox  # the store's durable inbox: None answers from memory only
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
        self.redelivery = Redelivery(self.resume)  # commands in hand; retries the others
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
        are answered one at a time, in the order they came; other people's run alongside.
        A command is recorded in the inbox first: one seen before is not answered again."""
        text = self.command_text(message)
        if text is None:
            return None
        self.redelivery.hold(message)  # recorded and not yet queued: no retry may take it meanwhile
        try:
            if self.inbox is not None and not self.inbox.inbox_add(message):
                return None
            admission = self.rate.admit(int(message["sender_id"]))
            if admission is not Admission.ANSWER:
                return self._enqueue(message, lambda: self._over_limit(message, text, admission))
            return self._enqueue(message, lambda: self.respond(message, text))
        finally:
            self.redelivery.done_with(message)

    def resume(self) -> int:
        """Answer the commands recorded but not answered, and not in hand: at the start,
        those left when the process last stopped; later, those whose reply could not be
        sent (a reply that may have gone out already is looked for first); how many."""
        pending = self.inbox.inbox_pending() if self.inbox is not None else []
        pending = self.redelivery.not_in_hand(pending)
        for command in pending:
            text = self.command_text(command.message) or ""
            self._enqueue(command.message,
                          lambda c=command, t=text: self.respond(c.message, t, c.reply, c.following))
        return len(pending)

    def _enqueue(self, message: dict, run: Callable[[], str | None]) -> Future:
        sender, answered = int(message["sender_id"]), Future()
        self.redelivery.hold(message)

        def in_turn() -> None:
            try:
                answered.set_result(run())
            except BaseException as exc:  # never leave the sender's next commands waiting
                log.exception("Answering message %s failed", message.get("id"))
                answered.set_exception(exc)
            finally:
                self.redelivery.done_with(message)

        def start(_previous: Future | None = None) -> None:
            self._pool.submit(in_turn)

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

    def _over_limit(self, message: dict, text: str, admission: Admission) -> str | None:
        """A command over its sender's rate: not answered (the first one gets SLOW_DOWN
        instead), but consent is still applied, so no opt-out is ever lost."""
        log.info("User %s is over the command rate: message %s %s", message["sender_id"], message["id"],
                 "gets the slow-down note" if admission is Admission.WARN else "is skipped")
        if parse(text, (self.own_name,)).name in CONSENT_COMMANDS:
            self._answer_safely(message, text)
        if admission is Admission.WARN:
            return self._send(message, SLOW_DOWN)
        self._record("answered", message)
        return None

    def close(self) -> None:
        """Finish the commands being answered; those still queued stay in the inbox."""
        self.redelivery.close()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def respond(self, message: dict, text: str, reply: str | None = None, following: bool = False) -> str:
        """Answer a command and deliver the reply, once; never raises (the one path for the
        runner's pool and the zulip_bots handler). A `reply` given is one that was being
        sent when the process last stopped, or could not be sent: it may be in Zulip
        already. `following`: the first reply went out, the second (a `refresh`'s result)
        did not: the command is answered again and only its second reply is sent."""
        if reply is not None:
            return self._send(message, reply, maybe_sent=True)
        reply = self._answer_safely(message, text)
        if following:
            return self._owe_follow_up(message, reply)
        return self._send(message, reply)

    def _answer_safely(self, message: dict, text: str) -> str:
        try:
            return self.answer(message, text)
        except Exception:
            log.exception("Answering message %s failed", message.get("id"))
            return BROKEN

    def _send(self, message: dict, reply: str, maybe_sent: bool = False) -> str:
        """Deliver a reply, recorded in the inbox as being sent, then as answered."""
        if not maybe_sent:
            self._record("sending", message, reply)
        try:
            self.deliver(message, reply, maybe_sent)
        except Exception:  # stays `sending` in the inbox: tried again in RETRY_SECONDS
            log.exception("Replying to message %s failed", message.get("id"))
            self.redelivery.later()
            return reply
        if isinstance(reply, FollowUp):  # a second reply, to the same place, when it is ready
            self._record("following", message)
            return self._owe_follow_up(message, reply)
        self._record("answered", message)
        return reply

    def _owe_follow_up(self, message: dict, reply: str) -> str:
        """Send the second reply of ``reply`` when it is ready (``reply`` itself when it
        has none), then mark the command answered."""
        self.redelivery.hold(message)  # in hand until the second reply is sent
        if isinstance(reply, FollowUp):
            reply.later.add_done_callback(lambda later: self._follow_up(message, later.result()))
        else:
            self._follow_up(message, reply)
        return reply

    def _record(self, state: str, message: dict, *reply: str) -> None:
        """Record the command's progress in the inbox. A storage error (a full disk) is
        logged, and the reply goes out all the same: a person is never left unanswered
        for the bot's own trouble (at worst a restart answers the command twice)."""
        if self.inbox is None:
            return
        try:
            getattr(self.inbox, f"inbox_{state}")(int(message["id"]), *reply)
        except Exception:
            log.exception("Could not record message %s as %s in the inbox", message.get("id"), state)

    def _follow_up(self, message: dict, text: str) -> None:
        """Send a command's second reply: recorded as `sending` first, like any reply."""
        try:
            self._record("sending", message, text)
            self.deliver(message, text)
            self._record("answered", message)
        except Exception:
            log.exception("Sending the follow-up to message %s failed", message.get("id"))
            self.redelivery.later()
        finally:
            self.redelivery.done_with(message)

    def answer(self, message: dict, text: str) -> str:
        source = self.source_for(message)
        sender = int(message["sender_id"])
        parsed = parse(text, (self.own_name,))
        if parsed.name not in ALWAYS_ALLOWED and not self.directory.can_read(sender, source.stream):
            log.info("Refused a command from user %s: cannot read %s", sender, source.stream)
            where = source.describe() if self.directory.may_know(sender, source.stream) else UNNAMED_SOURCE
            return NOT_ALLOWED.format(where=where)
        asker = Asker(str(sender), message.get("sender_full_name", ""), message.get("sender_email", ""))
        log.info("Command %s from user %s", parsed.name, sender)
        wait = self.consent_cooldown.wait_left(parsed.name, sender) if parsed.name in CONSENT_COMMANDS else 0
        if wait:
            return TOO_SOON.format(minutes=math.ceil(wait / 60))
        with metrics.command(parsed.name):
            if asks_everywhere(parsed):
                return gather(parsed, asker, self.readable(sender), self.answerer_for)
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

    def readable(self, user_id: int) -> list:
        """The sources this person can read."""
        return [source for source in self.sources if self.directory.can_read(user_id, source.stream)]

    def sources_reached(self, message: dict) -> list:
        """The sources a reply to this message may hold: every one the sender can read for
        an `everywhere` question, else the one it asks about (decided from the message, so
        a reply resent after a restart goes where it would have gone)."""
        if asks_everywhere(parse(self.command_text(message) or "", (self.own_name,))):
            return self.readable(int(message["sender_id"]))
        return [self.source_for(message)]

    def deliver(self, message: dict, text: str, maybe_sent: bool = False) -> None:
        """Reply where the question was asked if the source may be read there, else by DM;
        exactly once (see `ZulipIO.send_stream`)."""
        sender, after = int(message["sender_id"]), int(message["id"])
        if not message_is_stream(message):
            self.io.send_direct([sender], text, after, maybe_sent)
            return
        where, topic = str(message["display_recipient"]), message.get("subject", message.get("topic", ""))
        streams = [source.stream for source in self.sources_reached(message)]
        if all(self.directory.may_post(where, stream) for stream in streams):
            self.io.send_stream(where, topic, text, after, maybe_sent)
            return
        log.info("Answered user %s by DM: #%s is not only for readers of %s", sender, where, ", ".join(streams))
        self.io.send_direct([sender], text, after, maybe_sent)
        self.io.send_stream(where, topic, SENT_BY_DM, after, maybe_sent)


def check_post_stream(directory: Directory, settings) -> None:
    """At start: the weekly post (each source's map) may only go where the source may; and
    a warning for a source nobody can be answered about."""
    for source in settings.sources:
        found = directory.stream_named(source.stream)
        if found and found.get("invite_only") and not found.get("history_public_to_subscribers", True):
            log.warning("#%s hides its history from new subscribers, so nobody can be trusted to "
                        "read every introduction and I will answer no one about it. In Zulip, let "
                        "subscribers see the stream's whole history.", source.stream)
        if not directory.may_post(settings.post_stream, source.stream):
            raise SettingsError(
                f"{settings.path}: post_stream {settings.post_stream!r} can be read by people who cannot "
                f"read {source.stream!r}, so the weekly map would show them its introductions. "
                "Post in the source stream or in a stream only its readers can read.")
