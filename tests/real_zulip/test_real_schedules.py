"""The scheduled rebuild and the weekly post, as they land in a real Zulip."""

from __future__ import annotations

from real_zulip.harness import TOPIC, WAIT, wait_for


def test_scheduled_rebuild_and_weekly_post_with_an_inline_preview(world, bot_process):
    """With both schedules every minute (and the debounce an hour away), a new intro is
    mapped by the scheduled rebuild, and the post carries the map link and a PNG preview
    that Zulip shows inline."""
    people = [world.person(n) for n in ("Kim", "Lou", "Mo", "Ned")]
    welcome = world.stream("welcome", people)
    posts = world.stream("maps", people)
    for person in people[:3]:
        person.post(welcome, TOPIC, f"I am {person.full_name}. I like rock climbing and bouldering.")
    bot = bot_process(welcome, f"debounce_minutes = 60\nrefresh_cron = * * * * *\n"
                               f"post_cron = * * * * *\npost_stream = {posts}\npost_topic = weekly map\n").start()
    first = wait_for(lambda: bot.snapshot_id(), "the first map")
    people[3].post(welcome, TOPIC, "I am new here and I love sailing.")
    wait_for(lambda: len(bot.documents()) == 4, "the new intro stored")
    minute_and_work = 60 + WAIT  # the schedules fire at the next whole minute, then build or post
    wait_for(lambda: (bot.snapshot_id() or 0) > first and bot.read(lambda s: s.snapshot_info("main")[2] == 4),
             "the scheduled rebuild to map the newcomer", timeout=minute_and_work)
    topic = [{"operator": "stream", "operand": posts}, {"operator": "topic", "operand": "weekly map"}]
    [post, *_] = wait_for(lambda: people[0].bot_replies(topic, markdown=True), "the weekly post", timeout=minute_and_work)
    assert "/user_uploads/" in post["content"] and ".png" in post["content"]
    assert "message_inline_image" in post["content"], post["content"]  # rendered inline
    assert "/map/" in post["content"]  # the signed map link
