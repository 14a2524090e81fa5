"""The keyword judge: can a reader tell what a group is about from its name?

Each label of a labelled data set has a short topic name (``TOPICS``, written once, by
hand, before any judging: the fictional batches' intended groups, the demo's, and the
pyvideo communities). For each group, its shown keywords are joined ("rust, compilers,
llvm") and embedded with the same model as the people; the judge's guess is the topic
name nearest by cosine among the data set's labels. The score is the share of grouped
people whose group's guess is the group's majority label. Catch-all labels ("none",
"general") get no topic name: a group mostly of them cannot be guessed right.

``generic_share`` counts the shown keywords that say nothing about a topic
(``GENERIC``, a list fixed here for judging, independent of the one the keyword code
uses), and ``generic_named`` the groups whose shown keywords are all such words.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

TOPICS = {
    # fictional batches and the demo
    "networking": "computer networking, network protocols and routers", "mobile": "mobile apps for android and ios",
    "graphics": "computer graphics, rendering and shaders", "climate": "climate science and sustainability",
    "packaging": "python packaging and build tools", "education": "teaching programming and education",
    "quantum": "quantum computing", "wasm": "webassembly", "rl": "reinforcement learning",
    "accessibility": "web accessibility and screen readers", "databases": "databases and query engines",
    "distributed": "distributed systems and consensus", "security": "security and cryptography",
    "embedded": "embedded systems and microcontrollers", "plt": "programming language theory and type systems",
    "ml": "machine learning and neural networks", "art": "generative art and creative coding",
    "science": "scientific computing and research", "teaching": "teaching and mentoring programmers",
    "compilers": "compilers and interpreters", "os": "operating systems and kernels",
    "frontend": "frontend web development, javascript and css", "music": "music and audio programming",
    "games": "game development", "proofs": "proof assistants and formal verification",
    "hardware": "hardware, electronics and fpga", "dataviz": "data visualization and charts",
    "bio": "bioinformatics and genomics", "nlp": "natural language processing and text",
    "fp": "functional programming, haskell and ocaml", "audio": "audio and sound synthesis",
    "kernels": "operating system kernels and drivers", "backend": "backend web services and apis",
    "systems": "systems programming in rust and c", "creative": "creative coding and art",
    "data": "data engineering and analytics",
    # pyvideo communities
    "pydata": "data science and analytics with pandas", "web": "web development with django and flask",
    "scipy": "scientific python and numerical computing", "posit": "r, rstudio and shiny",
    "pytorch": "pytorch deep learning", "ml-research": "machine learning research",
    "docs": "writing documentation", "jupyter": "jupyter notebooks",
}
GENERIC = frozenset({
    "future", "cases", "case", "steps", "step", "need", "needs", "simple", "faster", "fast", "minutes", "hours",
    "manual", "tied", "way", "ways", "things", "thing", "lot", "lots", "good", "better", "best", "great", "new",
    "many", "different", "important", "example", "examples", "number", "part", "parts", "problem", "problems",
    "approach", "process", "result", "results", "level", "easy", "hard", "common", "various", "set", "end",
    "time", "times", "people", "world", "today", "talk", "show", "help", "helps", "work", "use", "using",
    "also", "first", "well", "able", "real", "kind", "free", "years", "day", "days", "place", "idea", "ideas",
    "question", "questions", "answer", "change", "changes", "stuff", "fun", "cool", "nice", "next", "last",
    "least", "tips", "tricks", "overview", "introduction", "basics", "practical", "powerful", "easier",
})


def judge_score(keywords: dict[int, list[str]], labels, truth, embedder, catch_all=(), top: int = 6) -> float:
    """Share of grouped people whose group's nearest topic name is its majority label (NaN: no groups)."""
    labels, truth = np.asarray(labels), np.asarray(truth)
    names = [t for t in dict.fromkeys(truth.tolist()) if t not in catch_all and t in TOPICS]
    groups = [g for g in keywords if np.any(labels == g)]
    if not names or not groups:
        return float("nan")
    topic_vectors = _unit(embedder.encode([TOPICS[t] for t in names]))
    named = [g for g in groups if keywords[g]]
    guesses = {}
    if named:
        vectors = _unit(embedder.encode([", ".join(keywords[g][:top]) for g in named]))
        guesses = {g: names[int(np.argmax(topic_vectors @ v))] for g, v in zip(named, vectors)}
    right = sum(int(np.sum(labels == g)) for g in guesses
                if Counter(truth[labels == g].tolist()).most_common(1)[0][0] == guesses[g])
    return right / int(np.sum(np.isin(labels, groups)))


def generic_share(keywords: dict[int, list[str]], top: int = 6) -> float:
    """Share of shown keywords that are generic (NaN: none shown)."""
    shown = [w.lower() for words in keywords.values() for w in list(words)[:top]]
    return sum(w in GENERIC for w in shown) / len(shown) if shown else float("nan")


def generic_named(keywords: dict[int, list[str]], top: int = 6) -> int:
    """Groups whose shown keywords are all generic."""
    return sum(1 for words in keywords.values() if words and all(w.lower() in GENERIC for w in list(words)[:top]))


def _unit(vectors) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
