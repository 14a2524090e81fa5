"""The weekly post: the map link, an inline PNG preview and what changed since last time.

Each post goes out exactly once, even across a SIGKILL. Before sending, the post's
intent (a unique marker, the snapshot and the scheduler's run) is recorded; the marker
ends the message. After sending, one transaction records the post and drops the intent.
An intent still there on the next attempt means the process died (or the reply was
lost) between the two: the bot looks for the marker among its own latest messages in
the post topic, and records the post if it went out, or sends it then; so does a retry
after a lost answer (a timeout, a 502). A post is kept under Zulip's 10,000 characters
(the changes are cut short), so that its marker is never cut off. Remaining
window: if that message is deleted before the bot looks, or more than `LOOK_BACK` bot
messages follow it in the topic, the post is made again.
"""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path
from typing import Callable

from bot.zulip_io import ZulipIO

log = logging.getLogger(__name__)

POSTED_KEY = "weekly_post.{source}.snapshot"  # the snapshot last posted ("what changed since")
RUN_KEY = "weekly_post.{source}.run"  # the scheduler run it was posted in
INTENT_KEY = "weekly_post.{source}.intent"  # set just before sending: marker, snapshot, run
LOOK_BACK = 50  # the bot's latest messages in the post topic searched for a marker
MAX_POST = 10_000  # Zulip cuts a longer message (max_message_length), and its marker with it
MORE = " … and more: see the map."


def shortened(text: str, room: int) -> str:
    """``text`` if it fits in ``room`` characters, else cut at a line or comma, with MORE."""
    if len(text) <= room:
        return text
    cut = text[:max(0, room - len(MORE))]
    cut = cut[:max(cut.rfind("\n"), cut.rfind(", "), 0)]
    return cut + MORE


class PostFailed(Exception):
    """Some sources' weekly posts could not be made; the scheduler tries again later."""


class WeeklyPoster:
    """Posts each source's latest map to `post_stream` / `post_topic`, rebuilding if stale."""

    def __init__(self, io: ZulipIO, store, settings, refresher, links,
                 preview: Callable[[str, int], Path | None], describe_changes: Callable):
        self.io = io
        self.store = store
        self.settings = settings
        self.refresher = refresher
        self.links = links
        self.preview = preview
        self.describe_changes = describe_changes

    def post_all(self, run: str = "") -> None:
        """Post every source not posted in this scheduler `run` yet; PostFailed names
        those that failed, after trying them all."""
        failed = []
        for source in self.settings.sources:
            try:
                self.post(source, run)
            except Exception:
                log.exception("Weekly post of %s failed", source.name)
                failed.append(source.name)
        if failed:
            raise PostFailed(f"the weekly post of {', '.join(failed)} failed")

    def post(self, source, run: str = "") -> str | None:
        """Post one source's map once per `run`; the message text, or None when it was
        posted in this run already or there is no map yet."""
        intent = self._unfinished(source)
        if self.store.get_state(RUN_KEY.format(source=source.name)) == run:
            return None
        if intent is None or intent["run"] != run:  # none, or an older run's, never sent
            intent = self._intend(source, run)
            if intent is None:
                log.info("No map of %s to post yet", source.name)
                return None
        content = self.compose(source, intent["snapshot"], intent["marker"])
        self.io.send_stream(self.settings.post_stream, self.settings.post_topic, content,
                            sent=lambda: self._sent_id(intent["marker"]))  # a lost answer: look first
        self._record(source, intent)
        log.info("Posted the weekly map of %s (snapshot %s)", source.name, intent["snapshot"])
        return content

    def _intend(self, source, run: str) -> dict | None:
        """Record the intent to post the latest map (rebuilt first if stale)."""
        self.refresher.refresh_if_stale(source)
        info = self.store.snapshot_info(source.name)
        if info is None:
            return None
        intent = {"marker": f"{source.name}-{secrets.token_hex(6)}", "snapshot": info[0], "run": run}
        self.store.set_state(INTENT_KEY.format(source=source.name), json.dumps(intent))
        return intent

    def _unfinished(self, source) -> dict | None:
        """The intent of an earlier attempt that may not have gone out: recorded as posted
        if its marker is in the topic, else returned to be sent."""
        raw = self.store.get_state(INTENT_KEY.format(source=source.name))
        if raw is None:
            return None
        intent = json.loads(raw)
        if self._sent_id(intent["marker"]) is not None:
            log.info("The weekly post of %s went out before; recording it", source.name)
            self._record(source, intent)
            return None
        return intent

    def _sent_id(self, marker: str) -> int | None:
        """The id of the bot's post ending with this marker, among its latest in the topic."""
        narrow = [{"operator": "stream", "operand": self.settings.post_stream},
                  {"operator": "topic", "operand": self.settings.post_topic},
                  {"operator": "sender", "operand": self.io.email}]
        answer = self.io.call("get_messages", {"anchor": "newest", "num_before": LOOK_BACK, "num_after": 0,
                                               "narrow": narrow, "apply_markdown": False})
        return next((int(m["id"]) for m in answer["messages"] if marker in m["content"]), None)

    def _record(self, source, intent: dict) -> None:
        self.store.set_states({POSTED_KEY.format(source=source.name): str(intent["snapshot"]),
                               RUN_KEY.format(source=source.name): intent["run"],
                               INTENT_KEY.format(source=source.name): None})

    def compose(self, source, snapshot_id: int, marker: str = "") -> str:
        new = self.store.load_snapshot(snapshot_id)
        people, built_at = (len(new), new.built_at) if new else (0, None)
        lines = [f"**Who's here, and what we share** — {source.describe()}",
                 f"{people} people in {len(new.clusters) if new else 0} groups"
                 + (f" (built {built_at:%Y-%m-%d %H:%M} UTC)." if built_at else ".")]
        url = self.links.mint_url(source.name, snapshot_id)
        lines.append(f"[Open the interactive map]({url})" if url else "(The interactive map is not published.)")
        changes = self.describe_changes(self._last_posted(source), new)
        image = self._upload_preview(source.name, snapshot_id)
        end = (["", f"[preview]({image})"] if image else []) + (["", f"*post {marker}*"] if marker else [])
        if changes:
            text = changes if isinstance(changes, str) else "\n".join(f"- {line}" for line in changes)
            room = MAX_POST - len("\n".join(lines + ["", "**Since the last post:**", ""] + end))
            lines += ["", "**Since the last post:**", shortened(text, room)]
        return "\n".join(lines + end)

    def _last_posted(self, source):
        posted = self.store.get_state(POSTED_KEY.format(source=source.name))
        return self.store.load_snapshot(int(posted)) if posted else None

    def _upload_preview(self, source: str, snapshot_id: int) -> str | None:
        png = self.preview(source, snapshot_id)
        if png is None or not Path(png).is_file():
            log.warning("No PNG preview for %s snapshot %s", source, snapshot_id)
            return None
        return self.io.upload(str(png))
