"""Reproduce a real conversation with the bot and print it as a transcript.

Starts the Zulip-compatible test server (tests/zulip_server), fills a realm with the 81
demo people posting their raw introductions in #welcome > introductions, runs the real
`bot.runner.Bot` against it until its first map is built, then has one person talk to
it by DM and @-mention it in the stream: the Markdown the bot sends, which the second
section of docs/transcript.md shows. The test server does not render Markdown; the first
section, what a reader sees in a real Zulip, comes from the real tier
(tests/real_zulip/test_real_replies.py, BATCHVIZ_WRITE_TRANSCRIPT=1):

    python docs/transcript.py                            # the bundled model
    python docs/transcript.py --model hashing            # fast, for a smoke test
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for folder in (REPO, REPO / "tests"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from zulip_server import ZulipTestServer, wait_until  # noqa: E402 (after the path is set)

WELCOME, INTRODUCTIONS, CHAT = "welcome", "introductions", "chat"
BOT_NAME = "batchviz"
REPLY_TIMEOUT = 300.0  # seconds; a refresh with the real model is the slowest reply
DM_COMMANDS = ("help", "who's near me?", "near @**{other}**", "groups", "show group 2",
               "who's into machine-checked mathematics?",
               "map", "status", "opt out", "opt in")
MENTION = f"hey @**{BOT_NAME}** refresh please"


@dataclass
class Exchange:
    """One message to the bot and the reply it got ("" when none came in time)."""

    asker: str
    where: str  # "DM" or "#stream > topic"
    text: str
    reply: str


def make_realm(server, documents):
    """The bot, one user per demo person, and their introductions in the welcome topic."""
    bot = server.add_user(BOT_NAME, email="batchviz-bot@zulip.test", is_bot=True)
    people = {doc.person_id: server.add_user(doc.name) for doc in documents}
    server.add_stream(WELCOME, subscribers=[bot, *people.values()])
    for doc in documents:
        server.send_stream_message(people[doc.person_id], WELCOME, INTRODUCTIONS, doc.raw)
    return bot, people


def bot_settings(server, bot, folder: Path, model: str):
    from bot.settings import load_settings

    extra = (f"\n[batchviz]\nsource_stream = {WELCOME}\nsource_topic = {INTRODUCTIONS}\n"
             f"embedding_model = {'' if model == 'bundled' else model}\n"
             "web_port = 0\ndebounce_minutes = 0\nrefresh_cooldown_minutes = 10\nlog_level = warning\n")
    return load_settings(server.zuliprc(folder, bot, extra=extra))


def first_map_done(bot) -> bool:
    """The first build is complete: snapshot saved and its HTML and PNG written."""
    source = bot.settings.sources[0]
    return not bot.refresher.is_stale(source) and not bot.refresher.is_running(source)


def reply_after(server, bot, sent_id: int, asker, count: int = 1) -> str:
    """The bot's first `count` messages after `sent_id` that `asker` can read, one
    "batchviz: " line each, or "" when they did not all come in time."""
    def found():
        replies = [m.content for m in server.messages_sent_by(bot) if m.id > sent_id
                   and (asker.user_id in m.recipients or m.type == "stream")]
        return f"\n{BOT_NAME}: ".join(replies[:count]) if len(replies) >= count else None

    return wait_until(found, REPLY_TIMEOUT) or ""


def converse(server, bot, asker, other) -> list[Exchange]:
    """The DM commands, then the stream mention (a refresh: "rebuilding…", then the
    result); each waits for its replies."""
    exchanges = []
    for command in DM_COMMANDS:
        text = command.format(other=other.full_name)
        sent = server.send_dm(asker, bot, text)
        exchanges.append(Exchange(asker.full_name, "DM", text, reply_after(server, bot, sent, asker)))
    sent = server.send_stream_message(asker, WELCOME, CHAT, MENTION)
    exchanges.append(Exchange(asker.full_name, f"#{WELCOME} > {CHAT}", MENTION,
                              reply_after(server, bot, sent, asker, count=2)))
    return exchanges


def run_bot_conversation(model: str) -> list[Exchange]:
    """Server, realm, bot, first map, conversation; everything stopped afterwards."""
    from bot.runner import Bot
    from pipeline.demo import load_demo

    documents = load_demo()
    server = ZulipTestServer(poll_timeout=1.0).start()
    try:
        bot_user, people = make_realm(server, documents)
        with tempfile.TemporaryDirectory(prefix="batchviz-transcript-") as folder:
            settings = bot_settings(server, bot_user, Path(folder), model)
            bot = Bot(settings).start()
            try:
                if not wait_until(lambda: first_map_done(bot), REPLY_TIMEOUT):
                    raise RuntimeError("the bot never built its first map")
                asker, other = people[documents[0].person_id], people[documents[1].person_id]
                return converse(server, bot_user, asker, other)
            finally:
                bot.stop()
    finally:
        server.stop()
        for violation in server.spec_violations:
            print(f"Zulip API spec violation: {violation}", file=sys.stderr)


def format_transcript(exchanges: list[Exchange]) -> str:
    lines = []
    for exchange in exchanges:
        where = "" if exchange.where == "DM" else f" (in {exchange.where})"
        lines.append(f"> {exchange.asker}{where}: {exchange.text}")
        lines.append(f"{BOT_NAME}: {exchange.reply or '(no reply)'}")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled",
                        help="bundled (all-MiniLM-L6-v2, default), hashing (fast) or a model path")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    started = time.monotonic()
    exchanges = run_bot_conversation(args.model)
    print(format_transcript(exchanges))
    print(f"Total wall time: {time.monotonic() - started:.1f} s (model: {args.model})")
    return 0 if all(e.reply for e in exchanges) else 1  # a missing reply fails the run


if __name__ == "__main__":
    sys.exit(main())
