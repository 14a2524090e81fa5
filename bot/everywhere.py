"""Answers drawn from every source (batch) the asker can read: `who's into <topic> everywhere`.

Each source keeps its own map and its own answerer; the answer is theirs, one after the
other, each under the name of its batch. Which sources: those the asker can read
(``Dispatcher.readable``), so nothing of a batch reaches someone who cannot read it; and a
reply holding several batches is posted in a stream only when everyone there can read
every one of them (``Dispatcher.sources_reached``), else it goes by DM.
"""

from __future__ import annotations

from typing import Callable

from bot.commands import ParsedCommand

NOWHERE = "You can't read any of the introductions I map, so I have nothing to search."


def asks_everywhere(parsed: ParsedCommand) -> bool:
    return bool(parsed.args.get("everywhere"))


def gather(parsed: ParsedCommand, asker, sources, answerer_for: Callable) -> str:
    """Each readable source's own answer to ``parsed``, labelled with its batch."""
    if not sources:
        return NOWHERE
    single = ParsedCommand(parsed.name, {**parsed.args, "everywhere": False}, parsed.error)
    return "\n\n".join(f"In {source.describe()}:\n{answerer_for(source).answer(single, asker)}"
                       for source in sources)
