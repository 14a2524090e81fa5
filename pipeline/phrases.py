"""Phrases as people wrote them: runs of content words, their n-grams, and which phrase
stands for which.

A phrase is cut at punctuation and at every word that is not content (``pipeline.stopwords``
and the people's names), even inside a hyphenated one: "RISC-V CPU" gives "risc" and "cpu",
never "risc cpu", which nobody wrote. A term and its plural share one key (``term_key``).
``absorbed`` finds, for each term, the longer phrase that stands for it (the keywords' rule
of whole phrases, see ``pipeline.keywords``); ``select`` keeps the best phrases without
fragments of one another. The neighbours' shared words use the same runs.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from pipeline.stopwords import is_content, words

MAX_WORDS = 3
KEPT_TEXTS = 25_000  # texts whose phrases are kept (about 1 KB each for a long talk description)
ABSORB = 0.5  # a phrase stands for a shorter term when this share of its writers wrote it

_PHRASE_BREAK = re.compile(r"[.,;:!?()\[\]{}\"|/…—–\n\r\t]+|\s[-*]\s")


def phrases(text: str, extra_stop_words=frozenset()) -> list[list[str]]:
    """Runs of adjacent content words of ``text`` (cut at punctuation and at every other word).

    A dropped word cuts the run even inside a hyphenated one: "RISC-V CPU" gives "risc"
    and "cpu", never "risc cpu", which nobody wrote. Kept for the last ``KEPT_TEXTS``
    texts: a build reads every text for its keywords and again for the neighbours' shared
    words, and the next build mostly the same texts.
    """
    runs = _joined_runs(text, frozenset(extra_stop_words))
    return [run.split(" ") for run in runs.split("\n")] if runs else []


@lru_cache(maxsize=KEPT_TEXTS)
def _joined_runs(text: str, extra_stop_words: frozenset[str]) -> str:
    """The runs as one string, a line per run (kept compact: a tuple per run took ~13 KB
    per talk description, this ~1 KB). Words never hold a space or a line break."""
    runs = []
    for piece in _PHRASE_BREAK.split(text):
        run: list[str] = []
        for word in words(piece):
            if is_content(word) and word not in extra_stop_words:
                run.append(word)
            elif run:
                runs.append(" ".join(run))
                run = []
        if run:
            runs.append(" ".join(run))
    return "\n".join(runs)


def ngrams(text: str, extra_stop_words=frozenset(), max_words: int = MAX_WORDS) -> set[str]:
    """The distinct 1..max_words-grams of ``text``'s phrases."""
    return {
        " ".join(run[i:i + size])
        for run in phrases(text, extra_stop_words)
        for size in range(1, max_words + 1)
        for i in range(len(run) - size + 1)
    }


def term_key(term: str) -> str:
    """``term`` with every word in the singular: one key for "operating system(s)"."""
    return " ".join(singular(w) for w in term.split())


def select(ranked, top_n: int) -> list[str]:
    """The first ``top_n`` of ``ranked`` phrases, without phrases covered by better ones."""
    chosen: list[str] = []
    for term in ranked:
        words = _stems(term)
        if any(words <= _stems(c) for c in chosen):
            continue
        inside = [c for c in chosen if f" {c} " in f" {term} "]
        if inside:  # "machine learning" replaces "machine", in its place
            chosen[chosen.index(inside[0])] = term
            chosen = [c for c in chosen if c not in inside[1:]]
        else:
            chosen.append(term)
        if len(chosen) == top_n:
            break
    return chosen


def singular(word: str) -> str:
    """``word`` without a plural "s" (enough to tell "type" from "types", not "class")."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _stems(phrase: str) -> set[str]:
    """The words of ``phrase`` in the singular."""
    return {singular(w) for w in phrase.split()}


def absorbed(terms, counts: np.ndarray, order: np.ndarray) -> dict[int, int]:
    """Term index → the index of the phrase that stands for it (itself if none).

    A term's stand-in is the super-phrase one word longer with the most writers, if at
    least ``ABSORB`` of the term's writers wrote it; followed until no longer phrase does.
    """
    index = {term_key(terms[i]): i for i in order}
    longer: dict[int, list[int]] = {}
    for j in order:  # a phrase of k + 1 words is one word longer than its first and last k
        words = term_key(terms[j]).split()
        for part in {" ".join(words[1:]), " ".join(words[:-1])} - {""}:
            if part in index:
                longer.setdefault(index[part], []).append(j)
    stand_in = {}
    for i in order:
        current = i
        while longer.get(current):
            best = max(longer[current], key=lambda j: (counts[j], -j))
            if counts[best] < ABSORB * counts[current]:
                break
            current = best
        stand_in[i] = current
    return stand_in
