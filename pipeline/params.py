"""Pipeline parameters: one place for every knob and its default.

``None`` means "choose from the number of people" (see the stage that uses it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class PipelineParams:
    components: int = 2  # the picture: 2 or 3
    cluster_components: int | None = None  # UMAP dims clustered on (None: adaptive, ~5)
    n_neighbors: int | None = None  # UMAP neighbours (None: adaptive)
    min_dist: float = 0.1  # UMAP min_dist of the picture
    min_cluster_size: int | None = None  # HDBSCAN (None: adaptive)
    min_samples: int | None = None  # HDBSCAN (None: adaptive)
    keywords: str = "ctfidf"  # ctfidf | mmr | sentences
    top_keywords: int = 6
    neighbours_k: int = 5
    random_state: int = 42
    stable_refit: bool = True  # a full refit starts from the previous map (pipeline.anchor)

    def as_dict(self) -> dict:
        return asdict(self)
