"""`opt in` (or `opt out`) while a build has written its map files but not saved its
snapshot yet does not delete them (issue 21, item 3): the new map is served at once."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

from bot import service
from pipeline.embed import HashingEmbedder


def dms_to(realm, person) -> list[str]:
    return [m.content for m in realm.server.messages_sent_by(realm.bot)
            if m.type != "stream" and person.user_id in m.recipients]


def test_opt_in_while_a_build_saves_its_map_keeps_the_new_files(realm, start_bot, wait_for, monkeypatch):
    """The build is held right after writing its files; Bob opts in (which prunes the
    map files) and is answered; then the build saves its snapshot, and its link opens."""
    written, release = threading.Event(), threading.Event()
    real_write = service.write_outputs

    def write_then_hold(*args, **kwargs):
        paths = real_write(*args, **kwargs)
        written.set()
        release.wait(30)
        return paths

    monkeypatch.setattr(service, "write_outputs", write_then_hold)
    realm.server.send_stream_message(realm.alice, realm.welcome, realm.topic, "I sail and tie knots.")
    bot = start_bot(embedder=HashingEmbedder())
    wait_for(lambda: bot.store.message_count("main") == 1, what="the introduction stored")
    build = threading.Thread(target=bot.refresher.refresh, args=(bot.settings.sources[0],))
    build.start()
    try:
        assert written.wait(30), "the build never wrote its files"
        realm.server.send_dm(realm.bob, realm.bot, "opt in")
        wait_for(lambda: dms_to(realm, realm.bob), what="the opt-in reply")
    finally:
        release.set()
        build.join(60)
    snapshot = bot.store.snapshot_info("main")[0]
    url = bot.links.mint_url("main", snapshot)
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    assert status == 200, f"the new map answered {status}"
