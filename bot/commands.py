"""The command table: one list drives parsing, dispatch (by name) and the help text.

``parse(text)`` is forgiving — case, punctuation, "who is near me?", "whos near me",
"cluster #3", a mention of the bot anywhere — and never raises. Messages are cut to
``MAX_INPUT`` characters before matching, and every pattern is a plain alternation
without nested quantifiers, so matching time is linear in that bounded length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_INPUT = 1000
MAX_K = 20
BOT_NAMES = ("batchviz",)


@dataclass(frozen=True)
class Command:
    name: str
    patterns: tuple[str, ...]  # full-match regexes; group "rest" holds the arguments
    usage: str
    description: str

    def match(self, text: str) -> re.Match | None:
        for pattern in self.patterns:
            found = re.fullmatch(pattern, text, re.IGNORECASE)
            if found:
                return found
        return None


@dataclass(frozen=True)
class ParsedCommand:
    name: str
    args: dict = field(default_factory=dict)
    error: str | None = None  # a reply explaining what was wrong with the arguments


_WHO = r"(?:(?:who ?is|who'?s|who) )?"
_SHOW = r"(?:(?:show|show me|list|what are|what is|what's|whats|give me|open|get) )?(?:(?:the|all|all the) )?"
_REST = r"(?: (?P<rest>.*))?"

COMMANDS: tuple[Command, ...] = (
    Command("help", (r"(?:help|commands|usage|what can you do|\?)",), "help", "what I can do"),
    Command("near_me", (_WHO + r"(?:near|close to|closest to|nearest to|next to) me" + _REST, r"my neighbou?rs" + _REST),
            "near me [k]", "the k people whose introductions are closest to yours (default 5, at most 20)"),
    Command("near", (_WHO + r"(?:near|close to|closest to|nearest to|next to) (?P<who>.+)",),
            "near @**Name** [k]", "the same for someone else"),
    Command("clusters", (_SHOW + r"(?:clusters|groups)",), "clusters", "every cluster, one line each: number, size, keywords"),
    Command("cluster", (_SHOW + r"(?:cluster|group) ?#?(?P<rest>.*)",),
            "show cluster N", "one cluster: its keywords, members and the map link"),
    Command("map", (_SHOW + r"(?:map|link|map link)",), "map", "the link to the latest interactive map"),
    Command("refresh", (r"(?:refresh|rebuild|update)(?: (?:the )?map)?(?: now)?",), "refresh",
            "read the introductions again and rebuild the map now"),
    Command("status", (r"(?:status|stats|info)",), "status", "last build, counts, model, next scheduled post"),
    Command("opt_out", (r"(?:forget me|opt ?-?out|remove me|leave me out)",), "forget me / opt out",
            "delete your introduction from my data and leave you out of every map"),
    Command("opt_in", (r"(?:opt ?-?in|include me|add me)",), "opt in", "be included again from the next map"),
)
BY_NAME = {command.name: command for command in COMMANDS}


def help_text() -> str:
    lines = ["I map the introductions in this community. Talk to me in a DM or mention me:"]
    lines += [f"* `{command.usage}` — {command.description}" for command in COMMANDS]
    return "\n".join(lines)


def short_help() -> str:
    return "I didn't understand that. Try " + ", ".join(f"`{c.usage}`" for c in COMMANDS[1:5]) + ", or `help`."


def _strip_bot_mentions(text: str, bot_names: tuple[str, ...]) -> str:
    names = "|".join(re.escape(name) for name in bot_names if name)
    if not names:
        return text
    return re.sub(r"@_?\*\*(?:" + names + r")(?:\|\d+)?\*\*", " ", text, flags=re.IGNORECASE)


def normalize(text: str, bot_names: tuple[str, ...] = BOT_NAMES) -> str:
    """Bounded, mention-free, single-spaced text without surrounding punctuation."""
    text = _strip_bot_mentions(str(text)[:MAX_INPUT], bot_names)
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = " ".join(text.split())
    return text.strip(" ?!.,:;")


def parse_int(text: str) -> int | None:
    """An integer written as digits with an optional sign, else None (``3abc`` → None)."""
    text = text.strip()
    if not re.fullmatch(r"[+-]?\d{1,50}", text):
        return None
    return int(text)


def _parse_k(rest: str | None, default: int | None) -> tuple[dict, str | None]:
    if not rest:
        return {"k": default}, None
    k = parse_int(rest.lstrip("k=").strip())
    if k is None:
        return {}, f"I expected a number of people after the name, like `near me 5`, not `{rest[:40]}`."
    return {"k": min(max(k, 1), MAX_K)}, None


_MENTION = re.compile(r"@_?\*\*(?P<name>[^*|]{1,200})(?:\|(?P<id>\d{1,20}))?\*\*")


def _parse_person(who: str) -> tuple[dict, str | None]:
    mention = _MENTION.match(who)
    if mention:
        args, error = _parse_k(who[mention.end():].strip(), None)
        return args | {"name": mention["name"].strip(), "user_id": mention["id"]}, error
    words = who.rsplit(" ", 1)
    if len(words) == 2 and parse_int(words[1]) is not None:
        args, error = _parse_k(words[1], None)
        return args | {"name": words[0].strip("@ "), "user_id": None}, error
    return {"k": None, "name": who.strip("@ "), "user_id": None}, None


def _parse_cluster(rest: str) -> tuple[dict, str | None]:
    rest = rest.strip().lstrip("#").strip()
    if not rest:
        return {}, "Which cluster? Say `show cluster N` (see `clusters` for the numbers)."
    number = parse_int(rest)
    if number is None:
        return {}, f"`{rest[:40]}` is not a cluster number. Say `show cluster N`, e.g. `show cluster 3`."
    return {"number": number}, None


def _arguments(name: str, found: re.Match) -> tuple[dict, str | None]:
    groups = found.groupdict()
    if name == "near_me":
        return _parse_k(groups.get("rest"), None)
    if name == "near":
        return _parse_person(groups["who"])
    if name == "cluster":
        return _parse_cluster(groups.get("rest") or "")
    return {}, None


def parse(text: str, bot_names: tuple[str, ...] = BOT_NAMES) -> ParsedCommand:
    """The command a message asks for; ``unknown`` when nothing matches. Never raises."""
    clean = normalize(text, bot_names)
    if not clean:
        return ParsedCommand("help")
    for command in COMMANDS:
        found = command.match(clean)
        if found:
            args, error = _arguments(command.name, found)
            return ParsedCommand(command.name, args, error)
    return ParsedCommand("unknown", {"text": clean[:200]})
