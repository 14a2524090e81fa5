"""The local terminal chat of the demo: talk to the bot as one person on the map.

Each line is parsed and answered exactly as in Zulip. Lines come from ``--say``
arguments, from standard input when it is not a terminal, or from a prompt. Two words
exist only here: ``as NAME`` switches to another person on the map, ``quit`` leaves.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from typing import Callable, Iterable, TextIO

from bot.answers import Answerer, Asker
from bot.commands import parse
from pipeline.result import MapResult

QUIT = {"quit", "exit", "bye", ":q"}
SWITCH = "as "


class UnknownPersonError(ValueError):
    """``--as NAME`` names nobody on the map; the message lists a few who are."""


def choose_person(result: MapResult, name: str | None, flag: str = "--as ") -> Asker:
    """The person to chat as: by name (any case, or a unique prefix), else the first.

    ``flag`` starts the error message: how the name was given (the option, or nothing).
    """
    if not len(result):
        raise UnknownPersonError("the map is empty, so there is nobody to chat as")
    people = result.people
    if not name:
        return Asker(people[0].person_id, people[0].name)
    wanted = name.strip().casefold()
    exact = [p for p in people if p.name.casefold() == wanted or p.person_id == name]
    found = exact or [p for p in people if p.name.casefold().startswith(wanted)]
    if len(found) != 1:
        some = ", ".join(p.name for p in (found or people)[:5])
        why = "is ambiguous" if found else "is not on the map"
        raise UnknownPersonError(f"{flag}{name!r} {why}; try one of: {some}")
    return Asker(found[0].person_id, found[0].name)


def prompted_lines(prompt: str, read: Callable[[str], str] = input) -> Iterable[str]:
    """Lines typed at a prompt until end of input."""
    while True:
        try:
            yield read(prompt)
        except EOFError:
            return


def greeting(asker: Asker) -> str:
    """Who you are talking as, and what to say."""
    return (f"You are {asker.name} (a demo person). Ask `near me`, `groups`, `show group 2`, `help`; "
            "`as NAME` to be someone else; `quit` to leave.")


def switch(answerer: Answerer, asker: Asker, name: str) -> tuple[Asker, str]:
    """The person named (and a reply saying so), or the same one and why not."""
    result = answerer.latest_map()
    if result is None:
        return asker, "There is no map yet, so there is nobody else to be."
    try:
        chosen = choose_person(result, name, flag="")
    except UnknownPersonError as exc:
        return asker, f"You are still {asker.name}: {exc}."
    return chosen, f"You are now {chosen.name}."


def terminal_text(reply: str) -> str:
    """A reply for the terminal: Zulip's ``<time:…>`` written out as a UTC time."""
    def written(found: re.Match) -> str:
        try:
            return datetime.fromisoformat(found[1]).strftime("%Y-%m-%d %H:%M %Z").strip()
        except ValueError:
            return found[0]
    return re.sub(r"<time:([^>]{1,40})>", written, reply)


def converse(answerer: Answerer, asker: Asker, lines: Iterable[str], out: TextIO | None = None,
             echo: bool = False) -> int:
    """Answer each line until ``quit`` or the end; returns how many were answered."""
    out = out or sys.stdout
    answered = 0
    for line in lines:
        line = line.strip()
        if line.lower() in QUIT:
            break
        if not line:
            continue
        if echo:
            print(f"> {line}", file=out)
        if line.lower().startswith(SWITCH):
            asker, reply = switch(answerer, asker, line[len(SWITCH):])
        else:
            reply = answerer.answer(parse(line), asker)
        print(terminal_text(reply), file=out, end="\n\n")
        answered += 1
    return answered


def chat(answerer: Answerer, asker: Asker, say: list[str] | None = None,
         stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    """``say`` lines if given, else piped standard input, else an interactive prompt."""
    stdin, out = stdin or sys.stdin, out or sys.stdout
    print(greeting(asker), file=out)
    if say:
        return converse(answerer, asker, say, out, echo=True)
    if not stdin.isatty():
        return converse(answerer, asker, stdin, out, echo=True)
    return converse(answerer, asker, prompted_lines("> "), out)
