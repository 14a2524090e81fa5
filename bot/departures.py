"""Forgetting people who leave: deactivated or removed from the organization.

Zulip tells the bot with a ``realm_user`` event: ``op: update`` with ``is_active: false``
when someone is deactivated (``true`` again when reactivated), ``op: remove`` when the
bot can no longer see them (and, before feature level 222, for a deactivation, with
``op: add`` for a reactivation). Their data is not deleted at once (a deactivation may be a
mistake, undone the same day): the time it falls due is kept in the store
(``departed.<user id>``), a reactivation cancels it, and a scheduled check forgets
whoever is due, exactly as an opt-out does (messages, embeddings, snapshot texts, map
files), so the running bot and a restart agree. Admins can do the same at once with
``batchviz forget USER``. Both log the user id and a count, never the person's text.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Callable

log = logging.getLogger(__name__)

DEPARTED_KEY = "departed."  # + user id -> when their data falls due to be forgotten (ISO time)


def forget(store, user_id: str, reason: str) -> int:
    """Delete everything stored about the person and keep their messages out (they are
    recorded as opted out: back in the organization, they say `opt in`); the number of
    messages deleted."""
    deleted = store.forget_person(user_id)
    store.set_consent(user_id, True)
    store.set_state(DEPARTED_KEY + user_id, None)
    log.info("Forgot user %s (%s): %d message(s) deleted", user_id, reason, deleted)
    return deleted


class Departures:
    """Schedules, cancels and carries out the forgetting of people who left."""

    def __init__(self, store, forget_after_days: int, on_forgotten: Callable[[], None],
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.store = store
        self.window = timedelta(days=forget_after_days)
        self.on_forgotten = on_forgotten  # someone was forgotten: prune map files, rebuild
        self.clock = clock

    def handle_event(self, event: dict) -> None:
        if event.get("type") != "realm_user":
            return
        person = event.get("person") or {}
        if "user_id" not in person:
            return
        user_id = str(person["user_id"])
        if event.get("op") == "remove" or (event.get("op") == "update" and person.get("is_active") is False):
            self._depart(user_id)
        elif event.get("op") == "add" or (event.get("op") == "update" and person.get("is_active") is True):
            if self.store.get_state(DEPARTED_KEY + user_id) is not None:
                self.store.set_state(DEPARTED_KEY + user_id, None)
                log.info("User %s is back; their data is kept", user_id)

    def check(self, directory) -> None:
        """At start: whoever has stored messages but was deactivated while the bot was down
        (no event came) is scheduled as if the event had come now; whoever is due by now
        is forgotten."""
        for user_id in sorted(self.store.people_with_messages()):
            person = directory.user(int(user_id))
            if person is not None and person.get("is_active") is False:
                self._depart(user_id)
        self.forget_due()

    def _depart(self, user_id: str) -> None:
        key = DEPARTED_KEY + user_id
        if self.store.get_state(key) is None:
            due = self.clock() + self.window
            self.store.set_state(key, due.isoformat())
            log.info("User %s left the organization; their data will be forgotten at %s", user_id, due)
        if not self.window:
            self.forget_due()

    def forget_due(self) -> int:
        """Forget everyone whose time has come; how many."""
        now, forgotten = self.clock(), 0
        for key, due in self.store.states(DEPARTED_KEY).items():
            if datetime.fromisoformat(due) <= now:
                forget(self.store, key[len(DEPARTED_KEY):], "left the organization")
                forgotten += 1
        if forgotten:
            self.on_forgotten()
        return forgotten


class NotStored(LookupError):
    """`batchviz forget` was given someone the database does not hold."""


def forget_now(settings, ref: str) -> tuple[str, int]:
    """`batchviz forget USER`: forget the person with this user id or email at once, delete
    the map files that show them, and mark each source for a rebuild (the running bot's
    next scheduled build leaves them out). (user id, messages deleted)."""
    from bot import service
    from bot.refresh import DIRTY_KEY
    from bot.settings import maps_dir
    from bot.webserver import MapLinks
    from storage import Store

    with Store(settings.database) as store:
        user_id = store.person_id(ref)
        if user_id is None:
            raise NotStored(f"{settings.database} holds nobody with the user id or email {ref!r}")
        deleted = forget(store, user_id, "forgotten by an admin")
        published = MapLinks(settings.web_mode, None, lambda *_: None, 1, map_dir=settings.map_dir)
        for source in settings.sources:
            folder = maps_dir(settings.data_dir, source.name)
            service.prune_files(store, source.name, folder)
            published.prune(source.name, folder)
            store.set_state(DIRTY_KEY.format(source=source.name), "1")
    return user_id, deleted
