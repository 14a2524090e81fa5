"""What a build produces: the map, its clusters and everyone's neighbours.

``MapResult`` is the one contract between ``pipeline/`` (which makes it), ``storage/``
(which stores it as an immutable snapshot) and ``bot/`` (which answers from it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from pipeline.documents import Document

NOISE = -1


@dataclass
class Cluster:
    """A group of people. ``number`` is stable across rebuilds and starts at 1."""

    number: int
    members: list[int]  # indices into MapResult.people
    keywords: list[str]
    sentences: list[str] = field(default_factory=list)  # representative sentences


@dataclass
class Neighbour:
    """Someone close to a person in the full embedding space."""

    index: int  # into MapResult.people
    similarity: float  # cosine similarity
    shared_words: list[str] = field(default_factory=list)


@dataclass
class MapResult:
    people: list[Document]
    embeddings: np.ndarray  # (n, d) float32, L2-normalised
    coords: np.ndarray  # (n, 2) or (n, 3), the picture
    labels: np.ndarray  # (n,) int: a cluster number, or NOISE
    clusters: dict[int, Cluster]
    neighbours: list[list[Neighbour]]
    model: str
    params: dict
    built_at: datetime
    notice: str | None = None  # e.g. "too few people to form groups", shown to users

    def __len__(self) -> int:
        return len(self.people)

    @property
    def noise_count(self) -> int:
        return int(np.sum(self.labels == NOISE))
