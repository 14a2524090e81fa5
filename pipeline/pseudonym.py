"""Pseudonyms for the map: "Curious Otter" instead of a real name.

A pseudonym comes from a hash of (seed, key), so the same person keeps the same
pseudonym across rebuilds as long as the seed stays. Collisions are resolved by
probing in a fixed order (keys sorted by their hash), so the result does not depend
on the order names arrive in. Names listed in ``keep`` (compared case-insensitively)
are shown as they are, and no pseudonym ever equals a real name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from pipeline.documents import Document

ADJECTIVES = (
    "Agile", "Amber", "Brave", "Bright", "Calm", "Clever", "Cosmic", "Curious",
    "Daring", "Dapper", "Eager", "Earnest", "Fancy", "Fearless", "Gentle", "Glad",
    "Golden", "Happy", "Honest", "Humble", "Jolly", "Keen", "Kind", "Lively",
    "Lucky", "Mellow", "Merry", "Mighty", "Nimble", "Noble", "Patient", "Plucky",
    "Polite", "Quick", "Quiet", "Rapid", "Sunny", "Shy", "Silver", "Snappy",
    "Steady", "Swift", "Thoughtful", "Tidy", "Upbeat", "Vivid", "Witty", "Zesty",
)
ANIMALS = (
    "Albatross", "Badger", "Beaver", "Bison", "Capybara", "Cheetah", "Crane", "Dolphin",
    "Eagle", "Falcon", "Ferret", "Finch", "Fox", "Gecko", "Heron", "Hedgehog",
    "Ibis", "Jaguar", "Koala", "Lemur", "Lynx", "Marmot", "Meerkat", "Moose",
    "Narwhal", "Newt", "Ocelot", "Octopus", "Otter", "Owl", "Panda", "Pelican",
    "Penguin", "Puffin", "Quokka", "Rabbit", "Raven", "Salamander", "Seal", "Sparrow",
    "Squirrel", "Tapir", "Tortoise", "Toucan", "Walrus", "Weasel", "Wombat", "Yak",
)
COMBINATIONS = len(ADJECTIVES) * len(ANIMALS)
PROBE_STEP = 7919  # a prime not dividing COMBINATIONS: probing visits every combination


def _digest(seed: int, key: str) -> int:
    data = f"{seed}\x00{key}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


def _combination(index: int) -> str:
    adjective, animal = divmod(index % COMBINATIONS, len(ANIMALS))
    return f"{ADJECTIVES[adjective]} {ANIMALS[animal]}"


def _candidates(start: int) -> Iterable[str]:
    """Every combination once from ``start``, then numbered ones: never runs out."""
    for step in range(COMBINATIONS):
        yield _combination(start + step * PROBE_STEP)
    round_ = 2
    while True:
        for step in range(COMBINATIONS):
            yield f"{_combination(start + step * PROBE_STEP)} {round_}"
        round_ += 1


def _assign(keys: Iterable[str], seed: int, taken: set[str]) -> dict[str, str]:
    """A unique pseudonym per key; ``taken`` holds lower-cased names not to use."""
    taken = set(taken)
    result: dict[str, str] = {}
    for digest, key in sorted({(_digest(seed, k), k) for k in keys}):
        for candidate in _candidates(digest):
            if candidate.lower() not in taken:
                taken.add(candidate.lower())
                result[key] = candidate
                break
    return result


def _folded(names: Iterable[str]) -> set[str]:
    return {name.casefold() for name in names}


def pseudonymize(names: list[str], keep: Iterable[str] = (), seed: int = 0) -> dict[str, str]:
    """``{name: pseudonym}``; names in ``keep`` (any case) map to themselves."""
    kept = _folded(keep)
    hidden = [name for name in names if name.casefold() not in kept]
    mapping = _assign(hidden, seed, _folded(names))
    mapping.update({name: name for name in names if name.casefold() in kept})
    return mapping


def pseudonyms_for(
    people: Iterable[Document], keep: Iterable[str] = (), seed: int = 0
) -> dict[str, str]:
    """``{person_id: display name}`` for ``render_html(names=...)``.

    Keyed by person id, so two people who share a name get different pseudonyms and
    someone who renames themselves keeps theirs.
    """
    people = list(people)
    kept = _folded(keep)
    hidden = [p.person_id for p in people if p.name.casefold() not in kept]
    mapping = _assign(hidden, seed, _folded(p.name for p in people))
    mapping.update({p.person_id: p.name for p in people if p.name.casefold() in kept})
    return mapping
