"""The local terminal chat of the demo: talk to the bot as one person on the map.

Each line is parsed and answered exactly as in Zulip. Lines come from ``--say``
arguments, from standard input when it is not a terminal, or from a prompt.
"""

from __future__ import annotations

import sys
from typing import Callable, Iterable, TextIO

from bot.answers import Answerer, Asker
from bot.commands import parse
from pipeline.result import MapResult

QUIT = {"quit", "exit", "bye", ":q"}


class UnknownPersonError(ValueError):
    """``--as NAME`` names nobody on the map; the message lists a few who are."""


def choose_person(result: MapResult, name: str | None) -> Asker:
    """The person to chat as: by name (any case, or a unique prefix), else the first."""
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
        raise UnknownPersonError(f"--as {name!r} {why}; try one of: {some}")
    return Asker(found[0].person_id, found[0].name)


def prompted_lines(prompt: str, read: Callable[[str], str] = input) -> Iterable[str]:
    """Lines typed at a prompt until end of input."""
    while True:
        try:
            yield read(prompt)
        except EOFError:
            return


def converse(answerer: Answerer, asker: Asker, lines: Iterable[str], out: TextIO | None = None,
             echo: bool = False) -> int:
    """Answer each line until ``quit`` or the end; returns how many were answered."""
    out = out or sys.stdout
    answered = 0
    for line in lines:
        if line.strip().lower() in QUIT:
            break
        if not line.strip():
            continue
        if echo:
            print(f"> {line.strip()}", file=out)
        print(answerer.answer(parse(line), asker), file=out, end="\n\n")
        answered += 1
    return answered


def chat(answerer: Answerer, asker: Asker, say: list[str] | None = None,
         stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    """``say`` lines if given, else piped standard input, else an interactive prompt."""
    stdin, out = stdin or sys.stdin, out or sys.stdout
    if say:
        return converse(answerer, asker, say, out, echo=True)
    if not stdin.isatty():
        return converse(answerer, asker, stdin, out, echo=True)
    print(f"Chatting as {asker.name}. Try `near me`, `clusters`, `help`; `quit` to leave.", file=out)
    return converse(answerer, asker, prompted_lines(f"{asker.name}> "), out)
