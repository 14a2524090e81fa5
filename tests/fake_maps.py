"""Hand-made MapResults for the render tests: no embedding, no UMAP, no clustering."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from pipeline.documents import Document
from pipeline.result import NOISE, Cluster, MapResult

WORDS = ["climbing", "rust", "coffee", "piano", "gardening", "chess", "running", "baking"]

HOSTILE_NAMES = [
    "<img src=x onerror=alert(1)>",
    "<script>window.pwned=1</script>",
    '"><svg onload="window.pwned=1">',
    "</script><script>window.pwned=1</script>",
    "<a href=\"javascript:window.pwned=1\">click</a>",
    "<a href='https://evil.example/'>Eve</a>",
    "Zoë & \"Q\" O'Neil",
]


def fake_map(
    sizes=(5, 4, 3),
    noise: int = 2,
    dims: int = 2,
    names: list[str] | None = None,
    keywords: dict[int, list[str]] | None = None,
    notice: str | None = None,
    seed: int = 0,
) -> MapResult:
    """Clusters numbered from 1 with the given sizes, then ``noise`` unclustered people."""
    rng = np.random.default_rng(seed)
    clustered = [c for c, size in enumerate(sizes, 1) for _ in range(size)]
    labels = np.array(clustered + [NOISE] * noise, dtype=int)
    n = len(labels)
    names = names or [f"Person {i}" for i in range(n)]
    centres = rng.normal(scale=10, size=(len(sizes) + 2, dims))
    coords = centres[labels] + rng.normal(size=(n, dims))
    clusters = {
        c: Cluster(
            c,
            [int(i) for i in np.flatnonzero(labels == c)],
            (keywords or {}).get(c, [WORDS[(c + k) % len(WORDS)] for k in range(3)]),
        )
        for c in range(1, len(sizes) + 1)
    }
    people = [
        Document(f"id{i}", names[i], f"Hi, I am {names[i]} and I like {WORDS[i % len(WORDS)]}.")
        for i in range(n)
    ]
    return MapResult(
        people=people,
        embeddings=np.zeros((n, 8), dtype=np.float32),
        coords=coords,
        labels=labels,
        clusters=clusters,
        neighbours=[[] for _ in range(n)],
        model="fake",
        params={},
        built_at=datetime(2026, 11, 29, 18, 30, tzinfo=timezone.utc),
        notice=notice,
    )
