"""Hostile strings, and every reply template that carries user text, for checking what
Zulip's own renderer makes of the bot's replies (issue 20).

The corpus is deterministic (a seeded generator) and built from: the issue's table; the
reliability fuzzer's fragments and Markdown bits; every construct of Zulip's Markdown
(read from zerver/lib/markdown/ of the kit's source: mentions of every kind, stream,
topic and message links, links, images, autolinks, emails, emoji, emoticons, spoilers,
maths, code, quotes, times, tables, lists, headings, rules, emphasis, HTML, entities,
linkifiers, widgets, backslash escapes); scripts, right-to-left text, combining marks,
controls; and seeded mixtures of all of these.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import datetime, timezone

import numpy as np

from bot.answers import MAX_ECHO, Answerer, Asker, friendly_error
from bot.commands import ParsedCommand, _parse_cluster, _parse_k
from bot.inert import plain
from bot.service import describe_changes
from pipeline.documents import Document
from pipeline.errors import PipelineError
from pipeline.result import NOISE, Cluster, MapResult, Neighbour

SEED = 20
SIZE = 2080  # strings in the corpus
MAX_LENGTH = 60  # characters of a mixture: replies of longer ones only repeat what these show

ISSUE_TABLE = [
    "**not bold**", "\\*\\*not bold\\*\\*", "[a](https://ev.il)", "\\[a\\]\\(https://ev.il\\)",
    "x http://2130706433/login y", "x http://localhost:8080/admin y", "<time:abc>", "\\<time:abc\\>",
    "&#64;&#42;&#42;all&#42;&#42;", "evil&#46;com", "&#60;time&#58;abc&#62;", "@_**|11**",
    "@_**Wrong Name|11**", "@_**[x](https://ev.il)|11**", "a](https://ev.il) [b", "@**a](https://ev.il) [b**",
]
# from tests/reliability (FRAGMENTS of its conftest, MARKDOWN_BITS and samples of its fuzzer)
FUZZER = [
    "show cluster", "cluster #", "group", "near", "near me", "who's near me?", "near @**", "k=",
    "-1", "0", "3", "10" + "0" * 19, "3abc", "+7", "٣", "1e3",
    "`", "``", "@**all**", "@**everyone**", "@_**Nobody|99**", "@**Nobody Here**", "**", "|", "\\",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[x](javascript:alert(1))",
    "@**x`**", "@**`", "`@**all**`", "**bold**", "__", "~~", "$$", "[", "]", "](", "[Re-auth](https://ev.il)",
    "(https://ev.il)", "ev.il", "#**welcome**", "\u202eevil", "\u200b", "\u200d", "\ufeff", "🎉", "👩‍👩‍👧",
    "Ωμέγα", "שלום", "مرحبا", "你好", "ᚠᛇᚻ", "\n", "\t", "*", "_", "(", ")", "~~x~~", "$$x$$", "@", "x",
]
CONSTRUCTS = [
    # mentions: users, silent, by id, wildcards, groups, roles
    "@**Iago**", "@**Iago|8**", "@_**Iago**", "@_**Iago|8**", "@**|8**", "@_**|8**", "@**King Hamlet**",
    "@**all**", "@**everyone**", "@**channel**", "@**stream**", "@**topic**", "@all", "@everyone",
    "@*hamletcharacters*", "@_*hamletcharacters*", "@*role:members*", "@*role:everyone*", "@*Everyone*",
    # stream, topic and message links
    "#**Verona**", "#**Verona>test**", "#**Verona>test@1**", "#**Denmark>**", "#**Verona", "#Verona",
    # links, images, reference links, angle links
    "[click](https://evil.example)", "[click](javascript:alert(1))", "[c](/#narrow/channel/1)",
    "![img](https://ev.il/a.png)", "[a][1]", "[1]: https://ev.il", "<https://ev.il>", "<a@ev.il>",
    "[x](https://ev.il \"title\")", "[**b**](https://ev.il)", "[](https://ev.il)", "[a]( https://ev.il )",
    # autolinks, bare domains, emails, odd schemes
    "https://ev.il", "http://ev.il/a_(b)", "https://ev.il/path?q=1#frag", "www.example.com", "example.com",
    "sub.domain.co.uk/x", "ev.il/login", "a@b.co", "mailto:a@b.co", "ftp://ev.il", "file:///etc/passwd",
    "bitcoin:1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "http://[::1]/", "https://user:pw@ev.il", "HTTPS://EV.IL",
    "http://127.0.0.1:9991/", "xn--80ak6aa92e.com", "example.com.", "(example.com)", "'example.com'",
    # emoji by name, unicode, flags, keycaps, modifiers, emoticons
    ":smile:", ":+1:", ":-1:", ":zulip:", ":heart:", ":tada: :octopus:", "🐙", "👍🏽", "🇩🇪", "1️⃣", "#️⃣",
    "❤️", "☺", "✔", "↔", "©", "™", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "👨‍💻", ":)", ":(", "<3", ":D", ";)", ":p", "(y)",
    # spoilers, maths, code, quotes (fenced and inline)
    "```spoiler Hidden\nsecret\n```", "```spoiler\nx\n```", "$$\\frac{1}{2}$$", "$$x$$ and $$y$$",
    "```math\n\\int x\n```", "$$\\href{https://ev.il}{x}$$", "$$\\color{red}x$$", "`code`", "``co`de``",
    "```\ncode\n```", "~~~\ncode\n~~~", "```python\nprint(1)\n```", "    indented code", "```quote\nq\n```",
    "> quoted", ">> nested", "> ", "```", "~~~", "``` spoiler", "```math",
    # times
    "<time:2024-01-01T00:00:00Z>", "<time:1700000000>", "<time:now>", "<time:>", "<time:2024-13-45>",
    # tables, lists, headings, rules
    "| a | b |\n|---|---|\n| 1 | 2 |", "|a|b|", "|---|", "* item", "- item", "+ item", "1. item", "1) item",
    "* a\n* b", "# heading", "###### h6", "heading\n===", "heading\n---", "---", "***", "___", "- - -",
    # emphasis, strike, HTML, entities
    "*em*", "**strong**", "***both***", "~~del~~", "__under__", "_em_", "**unclosed", "*a **b** c*",
    "<b>bold</b>", "<a href=\"https://ev.il\">x</a>", "<iframe src=x>", "<!-- c -->", "<br>", "<p>",
    "&amp;", "&lt;script&gt;", "&#42;", "&#x2a;", "&#0;", "&#x110000;", "&nbsp;", "&copy;", "&",
    # linkifiers, widgets, slash commands, escapes
    "#123", "#1234 fixed", "JIRA-42", "#D1234", "zulip-mobile#123", "zulip-desktop#45 x", "(#D12)", "/me waves", "/poll Lunch?\nPizza\nSushi", "/todo List", "/flip",
    "\\*", "\\\\", "\\[x\\]", "\\`", "\\@**all**", "\\#**Verona**", "\\", "\\n",
    # bold-breakers and mention-breakers of the reply's own markup
    "**", "****", "*", "**a", "a**", "|9**", "**|9", "@_**", "@_**|", "|", "](x)", "*]",
]
SCRIPTS = [
    "Zoë Ångström", "José Núñez", "Łukasz Żółw", "Ωμέγα Αλφα", "Дмитрий Иванов", "שלום עליכם", "مرحبا بالعالم",
    "سلام\u200cدنیا", "नमस्ते दुनिया", "க்ஷ ஸ்ரீ", "สวัสดีครับ", "你好世界", "こんにちは 世界", "안녕하세요",
    "ሰላም ዓለም", "ᚠᛇᚻ᛫ᛒᛦᚦ", "Ꙭꙮ", "e\u0301", "Z\u0351\u0300\u0334a\u0358\u0329l\u0347\u035cg\u0353o",
    "a\u0308\u0308\u0308\u0308", "ﷺ", "𝐁𝐨𝐥𝐝", "ＡＢＣ ＊＊ｘ＊＊", "Ⅻ", "ℌ𝔢𝔩𝔩𝔬", "\u202eedoc\u202c", "\u2066x\u2069",
    "abc\u200b.com", "a\u00a0b", "a\u2028b", "a\x00b", "a\x07b", "tab\there", "line\r\nbreak", "\x85",
    "עברית and English", "ab\u200fcd", "٣٤٥", "Ⓐ", "°±²", "¿¡", "«»", "“quotes”", "‘single’", "—–", "…",
]
WORDS = ["near", "me", "group", "Ada", "rust", "data", "hi", "the", "x", "1", "3", "and"]
SEPARATORS = ["", " ", " ", "  ", "\n", "\n\n", "\t"]


def _random_text(rng: random.Random) -> str:
    """Like hypothesis' st.text(): code points from everywhere, some of them odd."""
    planes = [(0x20, 0x7E), (0xA0, 0x2FF), (0x300, 0x36F), (0x370, 0x6FF), (0x900, 0xDFF), (0x2000, 0x206F),
              (0x2190, 0x2BFF), (0x3000, 0x30FF), (0x4E00, 0x4E80), (0xFE00, 0xFE0F), (0x1F300, 0x1FAFF)]
    chars = []
    for _ in range(rng.randint(1, 16)):
        low, high = rng.choice(planes)
        chars.append(chr(rng.randint(low, high)))
    return "".join(chars)


def _mixture(rng: random.Random) -> str:
    pools = [ISSUE_TABLE, FUZZER, CONSTRUCTS, CONSTRUCTS, SCRIPTS, WORDS]
    parts = []
    for _ in range(rng.randint(2, 5)):
        roll = rng.random()
        parts.append(_random_text(rng) if roll < 0.12 else rng.choice(rng.choice(pools)))
    joined = parts[0]
    for part in parts[1:]:
        joined += rng.choice(SEPARATORS) + part
    return joined


def corpus() -> list[str]:
    """SIZE distinct strings, each with something to show (``plain`` is not empty)."""
    rng = random.Random(SEED)
    found: dict[str, None] = {}
    for text in ISSUE_TABLE + FUZZER + CONSTRUCTS + SCRIPTS:
        found.setdefault(text)
    while len(found) < SIZE:
        found.setdefault(_mixture(rng)[:MAX_LENGTH])
    return [text for text in found if plain(text)]


def digest(texts: list[str]) -> str:
    return hashlib.sha256(json.dumps(texts).encode()).hexdigest()


# ---- the reply templates that carry user text ------------------------------------------

PLACEHOLDER = "Qxq"  # a slot's stand-in: renders as itself, in no person's name
ECHO = 40  # characters of a typed argument the parser's errors echo
OTHER = "ꙮꙮ Other"  # the one person whose name is not the slot (no prefix of a corpus string)


def slot_map(text: str) -> MapResult:
    """A small map whose names, keywords, shared words and sentence are all ``text``."""
    people = [Document("id0", text, "intro"), Document("id1", text, "intro"), Document("id2", OTHER, "intro")]
    return MapResult(
        people=people, embeddings=np.eye(3, 8, dtype=np.float32), coords=np.eye(3, 2),
        labels=np.array([1, 1, NOISE]), clusters={1: Cluster(1, [0, 1], [text, "tea"], [text])},
        neighbours=[[Neighbour(1, 0.9, [text, "tea"]), Neighbour(2, 0.2, [text])], [Neighbour(0, 0.9, [text])], []],
        model="hashing", params={}, built_at=datetime(2026, 11, 29, 18, 30, tzinfo=timezone.utc))


def base_map() -> MapResult:
    """The map before: only the other person, no groups."""
    return MapResult(
        people=[Document("id2", OTHER, "intro")], embeddings=np.eye(1, 8, dtype=np.float32),
        coords=np.zeros((1, 2)), labels=np.array([NOISE]), clusters={}, neighbours=[[]], model="hashing",
        params={}, built_at=datetime(2026, 11, 22, 18, 30, tzinfo=timezone.utc))


class Replies:
    """Every reply template that carries user text, written by the bot's own code: each
    `answer_*` reads the text from a real stored map (names, keywords, shared words, the
    quoted sentence), the parser's errors echo it, and so on. ``of(text)`` gives
    {template: (markdown, the part of `text` it shows)}; a template that does not apply
    to a text (a number is a valid group) is left out."""

    def __init__(self, store):
        self.store = store
        store.save_snapshot("base", base_map())
        self.base = Answerer(store, "base")  # names in bold, as for CSV and demo people
        self.slots = Answerer(store, "corpus")

    def of(self, text: str) -> dict[str, tuple[str, str]]:
        self.store.save_snapshot("corpus", slot_map(text))
        me = Asker("id0", text)
        near = lambda name: ParsedCommand("near", {"name": name, "user_id": None, "k": None})  # noqa: E731
        replies = {
            "near @X, not found": (self.base.answer(near(text[:MAX_ECHO]), me), text[:MAX_ECHO]),
            "near @X, several": (self.slots.answer(near(text), me), text),
            "near me: names, shared words": (self.slots.answer(ParsedCommand("near_me"), me), text),
            "show group: keywords, members, sentence": (
                self.slots.answer(ParsedCommand("cluster", {"number": 1}), me), text),
            "groups: keywords": (self.slots.answer(ParsedCommand("clusters"), me), text),
            # listed as the refresh reply and the weekly post list them
            "refresh result, weekly post: what changed": (
                "\n".join(f"- {line}" for line in describe_changes(base_map(), slot_map(text))), text),
            "error": (friendly_error(PipelineError(text)), text),
            "near me K: echoed": (_parse_k(text, None)[1], text[:ECHO]),
            "show group N: echoed": (_parse_cluster(text)[1], text[:ECHO]),
        }
        return {name: reply for name, reply in replies.items() if reply[0]}
