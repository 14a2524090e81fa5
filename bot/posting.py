"""The weekly post: the map link, an inline PNG preview and what changed since last time."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from bot.zulip_io import ZulipIO

log = logging.getLogger(__name__)

POSTED_KEY = "weekly_post.{source}.snapshot"


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

    def post_all(self) -> None:
        for source in self.settings.sources:
            try:
                self.post(source)
            except Exception:
                log.exception("Weekly post of %s failed", source.name)

    def post(self, source) -> str | None:
        """Post one source's map; the message text, or None when there is no map yet."""
        self.refresher.refresh_if_stale(source)
        info = self.store.snapshot_info(source.name)
        if info is None:
            log.info("No map of %s to post yet", source.name)
            return None
        snapshot_id, built_at, people = info
        content = self.compose(source, snapshot_id, built_at, people)
        self.io.send_stream(self.settings.post_stream, self.settings.post_topic, content)
        self.store.set_state(POSTED_KEY.format(source=source.name), str(snapshot_id))
        log.info("Posted the weekly map of %s (snapshot %s)", source.name, snapshot_id)
        return content

    def compose(self, source, snapshot_id: int, built_at, people: int) -> str:
        new = self.store.load_snapshot(snapshot_id)
        lines = [f"**Who's here, and what we share** — {source.describe()}",
                 f"{people} people in {len(new.clusters) if new else 0} groups "
                 f"(built {built_at:%Y-%m-%d %H:%M} UTC)."]
        url = self.links.mint_url(source.name, snapshot_id)
        lines.append(f"[Open the interactive map]({url})" if url else "(The interactive map is not published.)")
        changes = self.describe_changes(self._last_posted(source), new)
        if changes:
            lines += ["", "**Since the last post:**", changes if isinstance(changes, str) else
                      "\n".join(f"- {line}" for line in changes)]
        image = self._upload_preview(source.name, snapshot_id)
        if image:
            lines += ["", f"[preview]({image})"]
        return "\n".join(lines)

    def _last_posted(self, source):
        posted = self.store.get_state(POSTED_KEY.format(source=source.name))
        return self.store.load_snapshot(int(posted)) if posted else None

    def _upload_preview(self, source: str, snapshot_id: int) -> str | None:
        png = self.preview(source, snapshot_id)
        if png is None or not Path(png).is_file():
            log.warning("No PNG preview for %s snapshot %s", source, snapshot_id)
            return None
        return self.io.upload(str(png))
