"""`who's into <topic>`: the people whose introductions are about a topic.

Two signals, blended:

- **meaning**: the cosine of the topic's embedding (the map's own model, encoded outside
  the bot's process: ``bot.queries``) with each person's, so "machine-checked
  mathematics" finds the people who wrote about Lean and Coq;
- **words**: the topic's words and two-word phrases that a person wrote (singular and
  plural alike), weighted by TF-IDF over the batch (``pipeline.neighbours.term_weights``,
  the shared words' weights), so a rare name ("Zig", "Coq") that the model knows little
  about is not lost. Only rare terms count: written by at most ``RARE_SHARE`` of the people
  (and at least two may always share one). A commoner word ("software", "machine") is
  the model's to weigh: counted as well, it pushed people who merely wrote it above
  better matches (measured in ``benchmarks/interests.py``).

A person's score is their cosine plus ``WORDS_WEIGHT`` × their words' weight. Only people
who match *well* are listed: who wrote one of the words, or whose cosine reaches the
batch's ``floor``, the similarity reached by the top ``MATCH_SHARE`` (half) of pairs of
people in this batch: closer to the topic than most people here are to one another (as
``bot.closeness`` calibrates its words on the batch: a cosine's scale depends on the model
and the texts). A topic nobody reaches gets "nobody" rather than the least bad. Each
person is quoted by the sentence of theirs that holds most of the topic's words, else of
their group's keywords, else the one that says most.
"""

from __future__ import annotations

import re
import textwrap
import threading
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote as url_quote

import numpy as np

from bot.inert import md
from pipeline.neighbours import term_weights, written_terms
from pipeline.phrases import term_key

WORDS_WEIGHT = 0.2  # a matched word's TF-IDF weight against the cosine
MATCH_SHARE = 0.5  # a cosine above the median of the batch's pair similarities matches
RARE_SHARE = 0.05  # the most people who may have written a term that counts as a word match
SAMPLE = 1000  # people whose pairs calibrate the floor (a seeded sample of a bigger map)
QUOTE_CHARS = 140
MODES = ("blend", "meaning", "words")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Match:
    index: int  # into MapResult.people
    score: float
    meaning: float  # cosine with the topic (0 when words only)


def terms_of(text: str) -> set[str]:
    """The keys of the words and two-word phrases of ``text``."""
    return {term_key(term) for term in written_terms(text)}


def pair_floor(unit: np.ndarray, share: float = MATCH_SHARE, sample: int = SAMPLE, seed: int = 0) -> float:
    """The cosine reached by the top ``share`` of pairs of people (a sample of them)."""
    if len(unit) < 2:
        return float("inf")
    if len(unit) > sample:
        unit = unit[np.random.default_rng(seed).choice(len(unit), sample, replace=False)]
    sims = (unit @ unit.T)[np.triu_indices(len(unit), 1)]
    return float(np.quantile(sims, 1 - share))


class TopicIndex:
    """What finding people by topic needs from one map, computed once per map."""

    def __init__(self, unit: np.ndarray, texts: tuple[str, ...]):
        self.unit = unit
        self.texts = texts
        self.floor = pair_floor(unit)

    def word_scores(self, topic: str, rare_only: bool = True) -> np.ndarray:
        """Each person's summed TF-IDF weight of the topic's terms (``rare_only``: of its
        rare terms only)."""
        fitted = term_weights(self.texts) if len(self.texts) else None
        keys = np.array(sorted(terms_of(topic)), dtype=object)
        if fitted is None or not len(keys):
            return np.zeros(len(self.texts))
        vocabulary, tfidf, _forms = fitted
        at = np.searchsorted(vocabulary, keys)
        known = (at < len(vocabulary)) & (vocabulary[np.minimum(at, len(vocabulary) - 1)] == keys)
        columns = tfidf[:, at[known]].toarray()
        if rare_only:
            columns = columns[:, (columns > 0).sum(axis=0) <= max(2, RARE_SHARE * len(self.texts))]
        return columns.sum(axis=1)

    def rank(self, topic: str, vector: np.ndarray | None, k: int, keep: Callable[[int], bool],
             mode: str = "blend") -> list[Match]:
        """The ``k`` best people who match well and ``keep`` accepts, best first (ties to
        the lower index). ``vector`` None: words only, every word that is not too common."""
        n = len(self.texts)
        by_meaning = vector is not None and mode != "words"
        meaning = self.unit @ vector if by_meaning else np.zeros(n)
        words = self.word_scores(topic, by_meaning) if mode != "meaning" else np.zeros(n)
        score = meaning + WORDS_WEIGHT * words
        good = (words > 0) | ((meaning >= self.floor) & by_meaning)
        candidates = np.flatnonzero(good)
        order = candidates[np.lexsort((candidates, -score[candidates]))]
        chosen = [int(i) for i in order if keep(int(i))][:k]
        return [Match(i, float(score[i]), float(meaning[i])) for i in chosen]


_cached: list[tuple[np.ndarray, TopicIndex]] = []
_cache_lock = threading.Lock()


def index_for(unit: np.ndarray, texts: tuple[str, ...]) -> TopicIndex:
    """The index of the map whose embeddings are ``unit`` (kept for the last two maps)."""
    with _cache_lock:
        for known, index in _cached:
            if known is unit:
                return index
    index = TopicIndex(unit, texts)
    with _cache_lock:
        _cached[:] = [(unit, index)] + _cached[:1]
    return index


def sentences(text: str) -> list[str]:
    return [s.strip(" -*•\t") for s in _SENTENCE_END.split(text) if s.strip(" -*•\t")]


def quote(text: str, terms: set[str], fallback: set[str] = frozenset()) -> str:
    """The short sentence of ``text`` that holds most of ``terms`` (keys), else of
    ``fallback``, else the one that says most (the most content words; not "Hi all!")."""
    parts = sentences(text) or [text]
    said = [(len(terms & found), len(fallback & found), len(found)) for found in map(terms_of, parts)]
    best = parts[max(range(len(parts)), key=lambda i: (said[i], -i))]
    return textwrap.shorten(best, QUOTE_CHARS, placeholder=" …")


def find_link(link: str, topic: str, keys: list[str]) -> str:
    """The map link opening on a search for ``topic`` with these people highlighted."""
    base = link.split("#")[0]
    return f"{base}#find={url_quote(topic, safe='')}&ids={','.join(url_quote(k, safe='') for k in keys)}"


def reply(result, matches: list[Match], topic: str, name_of: Callable[[int], str],
          link: str | None, words_only: bool = False) -> str:
    """The chat answer: the people, each with their quoted part, and the map link."""
    asked = md(topic)
    if not matches:
        return (f"Nobody on this map wrote about “{asked}”, as far as I can tell. Try other words, "
                "or say `groups` to see what people here are into.")
    lines = [f"Into “{asked}”{' (by the words people wrote)' if words_only else ''}:"]
    asked_terms = terms_of(topic)
    for rank, match in enumerate(matches, 1):
        doc, cluster = result.people[match.index], result.clusters.get(int(result.labels[match.index]))
        keywords = {term_key(w) for w in (cluster.keywords if cluster else [])}
        lines.append(f"{rank}. {name_of(match.index)} — “{md(quote(doc.text or doc.raw, asked_terms, keywords))}”")
    if link and "://" in link:
        keys = [result.people[m.index].person_id for m in matches]
        lines.append(f"[See them on the map]({find_link(link, topic, keys)})")
    return "\n".join(lines)
