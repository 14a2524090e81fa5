"""The command table: one list drives parsing, dispatch (by name) and the help text.

``parse(text)`` is forgiving — case, punctuation, "who is near me?", "whos near me",
"group #3", "could you show me the groups please", a mention of the bot anywhere —
and never raises. A message is reduced to its ``request_words`` (no punctuation, no filler
such as "please", "show", "the") and those are matched against a few patterns per
command. "group"/"clusters" without a number means all groups; with one, that group.
Messages are cut to ``MAX_INPUT`` characters first, and every pattern is a plain
alternation without nested quantifiers, so matching time is linear in that bounded length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.inert import md

MAX_INPUT = 1000
MAX_K = 20
MAX_TOPIC = 200  # characters of a `who's into` topic
NOT_EVERYWHERE = ("I can't look for your closest people across batches yet: say `near me` for yours, "
                  "or `who's into <topic> everywhere` to search every batch you can read.")
BOT_NAMES = ("batchviz",)


@dataclass(frozen=True)
class Command:
    name: str
    patterns: tuple[str, ...]  # full-match regexes over ``request_words``; groups hold the arguments
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


_CLOSE = r"near|close to|closest to|nearest to|next to|similar to|neighbou?rs of"
_NEAR = rf"(?:{_CLOSE})"
_ME = rf"(?:{_CLOSE}|like|(?:into )?same(?: \w+)? as) me"
_K = r"(?: (?P<rest>.+))?"
_INTO = r"(?:here )?(?:into|in to|find|knows?(?: about)?|interested in)"  # "who's"/"anyone" are filler

COMMANDS: tuple[Command, ...] = (
    Command("help", (r"help|commands?|usage|do",), "help", "what I can do"),
    Command("near_me", (_ME + _K, r"neighbou?rs" + _K),
            "near me [k]", "the k people whose introductions are closest to yours (default 5, at most 20)"),
    Command("near", (_NEAR + r" (?P<who>.+)",), "near @**Name** [k]", "the same for someone else"),
    Command("into", (_INTO + r" (?P<topic>.+?)(?P<everywhere> everywhere| in (?:every|all) batch(?:es)?)?",), "who's into <topic>",
            "the people whose introductions are about a topic (also `anyone into …`, `find …`, `who knows …`; "
            "add `everywhere` to search every batch you can read)"),
    Command("clusters", (r"(?:clusters?|groups?)",), "groups", "every group, one line each: number, size, keywords"),
    Command("cluster", (r"(?:clusters?|groups?) (?P<rest>.+)",),
            "show group N", "one group: its keywords, members and the map link"),
    Command("map", (r"(?:map|link|map link)",), "map", "the link to the latest interactive map"),
    Command("refresh", (r"(?:refresh|rebuild|update)(?: map)?(?: now)?",), "refresh",
            "read the introductions again and rebuild the map now"),
    Command("status", (r"(?:status|stats|info)",), "status", "last build, counts, model, data folder size, next scheduled post"),
    Command("opt_out", (r"(?:forget me|opt-?out|opt out|opt me out|remove me|leave me out)",), "forget me / opt out",
            "delete your introduction from my data and leave you out of every map"),
    Command("opt_in", (r"(?:opt-?in|opt in|opt back in|opt me in|include me|add me)",), "opt in",
            "be included again from the next map"),
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


# words that only make a request polite or chatty; "me" only after show/tell/give/help
FILLER = frozenset(
    "please pls plz can could would will you the a an show tell give get about what whats are is "
    "hey hi hello list all my who whos where wheres else people anyone someone somebody".split()
)
_PERSON_FOLLOWS = frozenset({"near", "to", "of"})
_THANKS = frozenset({"please", "pls", "plz", "thanks", "thank", "you", "thx"})
_POLITE_ME = re.compile(r"\b(show|tell|give|help) me\b", re.IGNORECASE)
# an other person's mention, a word (apostrophes and hyphens inside), or a signed number
_WORD = re.compile(r"@_?\*\*[^*`]{1,200}\*\*|[^\W_]+(?:['-][^\W_]+)*|[+-]\d+")


def request_words(clean: str) -> str:
    """The words of a normalised message that say what it asks, for matching the table.

    Punctuation (and "#") goes and so does filler. After "near", "to" or "of" comes a
    person, whose name is kept as written (someone may be called "Will"), without a
    trailing "please"; before it, apostrophes go too ("who's" → "whos").
    """
    words = _WORD.findall(_POLITE_ME.sub(r"\1", clean))
    cut = next((i + 1 for i, w in enumerate(words) if w.casefold() in _PERSON_FOLLOWS), len(words))
    head = [w.replace("'", "") for w in words[:cut]]
    tail = words[cut:]
    while tail and tail[-1].casefold() in _THANKS:
        tail.pop()
    return " ".join([w for w in head if w.casefold() not in FILLER] + tail)


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
        return {}, f"I expected a number of people after the name, like `near me 5`, not “{md(rest[:40])}”."
    return {"k": min(max(k, 1), MAX_K)}, None


_MENTION = re.compile(r"@_?\*\*(?P<name>[^*|`]{1,200})(?:\|(?P<id>\d{1,20}))?\*\*")


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
    number = parse_int(rest)
    if number is None:
        return {}, f"“{md(rest[:40])}” is not a group number. Say `show group N`, e.g. `show group 3`."
    return {"number": number}, None


def _arguments(name: str, found: re.Match) -> tuple[dict, str | None]:
    groups = found.groupdict()
    if name == "near_me":
        if (groups.get("rest") or "").casefold() == "everywhere":
            return {}, NOT_EVERYWHERE
        return _parse_k(groups.get("rest"), None)
    if name == "near":
        return _parse_person(groups["who"])
    if name == "cluster":
        return _parse_cluster(groups.get("rest") or "")
    if name == "into":
        return {"topic": groups["topic"][:MAX_TOPIC], "everywhere": bool(groups.get("everywhere"))}, None
    return {}, None


def parse(text: str, bot_names: tuple[str, ...] = BOT_NAMES) -> ParsedCommand:
    """The command a message asks for; ``unknown`` when nothing matches. Never raises."""
    clean = normalize(text, bot_names)
    asked = request_words(clean)
    if not asked:  # empty, "?", "hi!"
        return ParsedCommand("help")
    for command in COMMANDS:
        found = command.match(asked)
        if found:
            args, error = _arguments(command.name, found)
            return ParsedCommand(command.name, args, error)
    return ParsedCommand("unknown", {"text": clean[:200]})
