"""Peak memory of answering each chat command on a map of n people (for bench.py).

The map is stored in a fresh SQLite file and read once (as the bot does); then each
command is answered as the first person on the map, whose first stored neighbour has
opted out, so `near me` takes the computed path (the one that once built an
(n, n-1, d) array). `who's into` is answered by its words only here (its topic is
embedded in a process of its own, which this peak would not see). The peak is Python's traced allocations (numpy's included) during
the one answer.
"""

from __future__ import annotations

import tempfile
import tracemalloc
from pathlib import Path

COMMANDS = ("near me", "near me 20", "clusters", "show cluster 1", "map", "status", "who's into {topic}")
INTO_TOPICS = ("machine learning", "web frameworks", "data visualisation", "testing", "concurrency",
               "packaging", "teaching", "databases", "security", "scientific computing")


def asked(command: str, i: int = 0) -> str:
    """The text of ``command`` the i-th time: each `who's into` a topic not asked before
    (a number added past the list), so every one is encoded, none remembered."""
    topic = INTO_TOPICS[i % len(INTO_TOPICS)] + (f" {i}" if i >= len(INTO_TOPICS) else "")
    return command.format(topic=topic)


def command_peaks(result) -> dict[str, float]:
    """{command: peak MiB of answering it} on the map `result`."""
    from bot.answers import Answerer, Asker
    from bot.commands import parse
    from storage import Store

    peaks = {}
    with tempfile.TemporaryDirectory(prefix="batchviz-commands-") as folder:
        with Store(Path(folder) / "db.sqlite3") as store:
            store.save_snapshot("bench", result)
            asker = Asker(result.people[0].person_id, result.people[0].name)
            if result.neighbours[0]:
                store.set_consent(result.people[result.neighbours[0][0].index].person_id, True)
            answerer = Answerer(store, "bench", links=lambda: "https://maps.example/m")
            answerer.latest_map()
            for text in COMMANDS:
                tracemalloc.start()
                try:
                    answerer.answer(parse(asked(text)), asker)
                    peaks[text] = tracemalloc.get_traced_memory()[1] / 2**20
                finally:
                    tracemalloc.stop()
    return peaks
