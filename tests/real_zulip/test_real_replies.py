"""Every kind of reply, as a reader sees it in a real Zulip: people are resolved silent
mentions with their current names, times are `<time>`, lists are lists, and no Markdown
or escape shows.

    BATCHVIZ_WRITE_TRANSCRIPT=1 .venv/bin/python -m pytest -m real_zulip \
        tests/real_zulip/test_real_replies.py -k every_kind -p no:cacheprovider

also writes what the reader sees into docs/transcript.md (its real-server section).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pipeline.demo import load_demo
from real_zulip.harness import TOPIC, Person, at_least, patient, wait_for
from zulip_render import reader_text, soup, visible

ROOT = Path(__file__).resolve().parents[2]
TRANSCRIPT = ROOT / "docs" / "transcript.md"
BEGIN, END = "<!-- real-server transcript: begin -->", "<!-- real-server transcript: end -->"
COMMANDS = ["help", "who's near me?", "near @**{other}**", "groups", "show group 1", "map", "status",
            "show group x", "near me lots", "near @**Nobody Here At All**", "what is the weather", "opt out", "opt in"]
LISTS = {"help": "ul", "who's near me?": "ol", "groups": "ul"}
TIMES = ("map", "status")


def demo_people(world, groups: int = 4, per_group: int = 3) -> list[tuple[Person, str]]:
    """A few demo people of a few of the demo's groups, with their introductions."""
    taken, chosen = {}, []
    for doc in load_demo():
        group = doc.extra["group"]
        if (group in taken or len(taken) < groups) and taken.get(group, 0) < per_group:
            taken[group] = taken.get(group, 0) + 1
            slug = re.sub(r"[^a-z]+", "-", doc.name.lower()).strip("-")
            person = Person(world.server, f"{doc.name} {world.nonce}", f"{slug}-{world.nonce}@batchviz.example.com")
            world.people.append(person)
            chosen.append((person, doc.raw))
    return chosen


def check_as_read(html: str, people: dict[int, str]) -> None:
    """No escape or Markdown shows (outside code spans, which show commands as typed);
    every mention is a resolved silent mention of a person by their current name."""
    seen = visible(re.sub(r"<code>.*?</code>", "", html))
    for shown in ("\\", "**", "&#", "@_"):
        assert shown not in seen, f"{shown!r} shows in {seen!r}"
    assert not re.search(r"\|\d+", seen), seen
    for span in soup(html).select(".user-mention"):
        assert "silent" in span["class"], span
        assert span.get_text() == people[int(span["data-user-id"])], (span, people)


def test_every_kind_of_reply_as_a_reader_sees_it(world, bot_process):
    """help, near me, near @X, groups, show group, map, status, errors, opt out and in, a
    refresh and its result, not on the map yet, the weekly post and the hello."""
    people = demo_people(world)
    asker, other = people[0][0], people[1][0]
    newcomer = world.person("Newcomer")
    welcome = world.stream("welcome", [p for p, _ in people] + [newcomer])
    posts = world.stream("maps", [asker])
    for person, intro in people:
        person.post(welcome, TOPIC, intro)
    bot = bot_process(welcome, f"embedding_model = \npost_cron = * * * * *\npost_stream = {posts}\n"
                               "post_topic = weekly map\n").start()
    wait_for(lambda: bot.snapshot_id(), "the first map", timeout=300)
    exchanges = []
    first = None
    for command in COMMANDS + ["refresh"]:
        text = command.format(other=other.full_name)
        sent = asker.dm_bot(text)
        first = first or sent
        count = 2 if command == "refresh" else 1
        replies = wait_for(lambda sent=sent, count=count: at_least(asker.dm_replies(after=sent, markdown=True), count),
                           f"the reply to {text}")
        exchanges.append((asker.full_name, "DM", text, replies[:count]))
    sent = newcomer.dm_bot("near me")
    exchanges.append((newcomer.full_name, "DM", "near me",
                      wait_for(lambda: newcomer.dm_replies(after=sent, markdown=True)[:1], "the not-on-the-map reply")))
    topic = [{"operator": "stream", "operand": posts}, {"operator": "topic", "operand": "weekly map"}]
    post = wait_for(lambda: asker.bot_replies(topic, markdown=True)[:1], "the weekly post", timeout=150)
    exchanges.append(("(schedule)", f"#{posts} > weekly map", "(the weekly post)", post))
    lounge = world.stream("lounge", [asker], with_bot=False)
    patient(world.server.admin.add_subscriptions, [{"name": lounge}], principals=[world.server.bot_id])
    hello = wait_for(lambda: asker.bot_replies([{"operator": "stream", "operand": lounge}], markdown=True)[:1],
                     "the hello")
    exchanges.append(("(the bot is added)", f"#{lounge}", "(the hello)", hello))

    names = {p.user_id: p.full_name for p in world.people}
    for _, _, text, replies in exchanges:
        for reply in replies:
            check_as_read(reply["content"], names)
    by_command = {text: replies[0]["content"] for _, _, text, replies in exchanges}
    for command, tag in LISTS.items():
        assert soup(by_command[command]).find(tag), (command, by_command[command])
    for command in TIMES:
        assert soup(by_command[command]).find("time"), by_command[command]
    assert soup(by_command["who's near me?"]).select(".user-mention.silent")
    assert "not on the map yet" in visible(by_command["near me"])
    if os.environ.get("BATCHVIZ_WRITE_TRANSCRIPT"):
        write_transcript(exchanges, world.nonce)


def write_transcript(exchanges, nonce: str) -> None:
    """The conversation as its reader saw it, at the top of docs/transcript.md."""
    lines = []
    for who, where, text, replies in exchanges:
        place = "" if where == "DM" else f" (in {where})"
        lines.append(f"> {who}{place}: {text}")
        lines += ["batchviz: " + reader_text(reply["content"]) for reply in replies]
        lines.append("")
    conversation = "\n".join(lines).replace(f" {nonce}", "").replace(f"-{nonce}", "")
    block = (f"{BEGIN}\n## In a real Zulip, as its reader sees it\n\n"
             "**Generated output — do not edit.** Produced by `BATCHVIZ_WRITE_TRANSCRIPT=1 .venv/bin/python -m "
             "pytest -m real_zulip tests/real_zulip/test_real_replies.py -k every_kind`: the real bot (bundled model) "
             "against the real Zulip server of the tier (11.0-dev), 12 demo introductions, each reply fetched as "
             "Zulip rendered it and shown as text (people are Zulip's silent mentions by id, with the names Zulip "
             "filled in; links as `text <url>`; times as the `<time>` Zulip shows in each reader's time zone).\n\n"
             f"```text\n{conversation}```\n{END}\n")
    current = TRANSCRIPT.read_text(encoding="utf-8")
    if BEGIN in current:
        current = current.split(BEGIN)[0] + block + current.split(END + "\n")[1]
    else:
        title, rest = current.split("\n", 1)
        current = f"{title}\n\n{block}\n## The Markdown the bot sends (test server)\n{rest}"
    TRANSCRIPT.write_text(current, encoding="utf-8")


def test_a_renamed_person_is_mentioned_by_their_new_name(world, bot_process):
    """Renamed through the API after their intro, a person is named with their new name
    in the next answer (Zulip fills in the silent mention by id)."""
    ada, bea = world.person("Ada"), world.person("Bea")
    welcome = world.stream("welcome", [ada, bea])
    ada.post(welcome, TOPIC, "I write compilers and love LLVM and parsing.")
    bea.post(welcome, TOPIC, "I build compilers in Rust: parsers and type checkers.")
    bot = bot_process(welcome).start()
    wait_for(lambda: bot.snapshot_id(), "the first map")
    renamed = f"Beatrix [x](https://ev.il) {world.nonce}"
    patient(world.server.admin.call_endpoint, url=f"users/{bea.user_id}", method="PATCH",
            request={"full_name": renamed})
    sent = ada.dm_bot("near me")
    [reply] = wait_for(lambda: ada.dm_replies(after=sent, markdown=True)[:1], "the near me reply")
    mentions = [m for m in soup(reply["content"]).select(".user-mention") if m["data-user-id"] == str(bea.user_id)]
    assert len(mentions) == 1, f"Bea is not a resolved mention: {reply['content']}"
    assert mentions[0].get_text() == renamed and "silent" in mentions[0]["class"]
    assert bea.full_name not in visible(reply["content"])
    assert [a["href"] for a in soup(reply["content"]).select("a") if "ev.il" in a["href"]] == []  # stays text
