"""Parameters that follow the number of people: the one place where the defaults are chosen.

A map of a batch (10–150 people) and a map of a whole community (a few thousand) need
different settings. HDBSCAN's and UMAP's library defaults are tuned for thousands of
points: on 60 introductions they label most people noise or find one blob. The rules
below scale with ``n`` so that a batch-sized map has a handful of real groups and little
noise, and a large map does not shatter into pairs.

- ``n_neighbors`` (UMAP): about ``sqrt(n)``, between 5 and 30 and below ``n``. Few
  neighbours keep small groups apart in a small map; a large one needs more to see its
  broad groups (on 1,000 pyvideo talks, 30 neighbours with the larger groups below raised
  the agreement with the talks' communities from ARI 0.09 to 0.16, mean of 4 seeds; see
  benchmarks/README.md).
- ``cluster_components``: the clustering runs on a ~5-D UMAP space (not on the 2-D
  picture, which squeezes groups together), at most ``n - 2`` dimensions so that UMAP's
  spectral start works.
- ``min_cluster_size`` (HDBSCAN): ``sqrt(n) / 2`` or ``n / 40``, whichever is larger, at
  least 3 and at most 50: a group of 3 in a batch of 20 is a real group; from 400 people
  on a group is at least 2.5% of everyone (25 in 1,000), so a large map does not shatter
  into dozens of small groups.
- ``min_samples`` (HDBSCAN): 1 or 2. It sets how conservative HDBSCAN is about calling a
  point noise; HDBSCAN's default (= min_cluster_size) leaves 30–50% of a batch grey.
  A small value keeps noise low (target: at most a fifth of 60 people).

- **The cut of HDBSCAN's tree** (``choose_selection``): HDBSCAN can keep its most stable
  clusters ("eom") or the leaves of its tree ("leaf"). On a batch, "eom" merges neighbouring
  small groups (games + audio + hardware in one group of 13 in the winter batch), "leaf"
  keeps them; on a map with big groups "leaf" shatters them. Both cuts are made, and the one whose groups stand
  apart better in the full embedding space is kept: the higher mean silhouette (cosine)
  over everyone, a person in no group counting 0 (so a cut that greys out more people
  must separate the rest clearly better). Ties, and cuts with fewer than two groups, go to
  "eom". Measured before choosing (ARI against the intended groups, mean; tuned fictional
  batches 5 UMAP seeds each, the demo 3, pyvideo labelled 30 draws of 60; the held-out
  batch never looked at; "batches" is the mean of the four tuned ones):

  ==========================  =======  ======  ======  =====  ===========
  rule                        batches  winter  summer  demo   pyvideo 60
  ==========================  =======  ======  ======  =====  ===========
  eom (before)                0.750    0.462   0.774   0.775  0.188
  leaf                        0.887    0.731   0.932   0.748  0.189
  leaf up to 60 people        0.887    0.731   0.932   0.775  0.189
  silhouette, grouped only    0.887    0.731   0.932   0.775  0.194
  silhouette in UMAP's 5-D    0.782    0.544   0.819   0.775  0.193
  eom, clusters <= n/5        0.836    0.672   0.909   0.775  0.184
  **silhouette, noise = 0**   0.884    0.731   0.932   0.775  0.190
  ==========================  =======  ======  ======  =====  ===========

  The silhouette of the grouped people alone looked as good on batches but picked "leaf"
  on a labelled pyvideo draw of 1,000 (ARI 0.087 instead of eom's 0.173, 27 % noise):
  counting noise as 0 keeps "eom" there (2 UMAP seeds) and in the demo (3 of 3), with no
  threshold on ``n``. It chose "leaf" in 13 of the 20 tuned batch maps (winter 5 of 5,
  spring 0 of 5: there both cuts agree) and in 10 of the 30 pyvideo draws of 60. Noise
  stayed at most 6 % on the batches.
  Other sizes with "leaf" were worse: min_cluster_size 2 / min_samples 2 gave 0.842,
  4 / 1 0.811; min_samples 2–3 lost people to noise (13–26 % in the winter batch).

A value set in ``PipelineParams`` wins over the rule, but is still capped by ``n`` so that
the stages never fail on a small map.
"""

from __future__ import annotations

import math

import numpy as np

from pipeline.params import PipelineParams

# fewer people than this: everyone is shown, but no groups are formed
MIN_PEOPLE_FOR_GROUPS = 6
# the cuts of HDBSCAN's tree that are compared, the first winning ties
SELECTIONS = ("eom", "leaf")
# the silhouette of a bigger map is estimated on this many people (a fixed sample)
SILHOUETTE_SAMPLE = 2000


def adaptive_n_neighbors(n: int) -> int:
    """UMAP neighbours for ``n`` points: ~sqrt(n) within [5, 30], and below n."""
    return max(1, min(n - 1, int(min(30, max(5, round(math.sqrt(n)))))))


def adaptive_cluster_components(n: int) -> int:
    """Dimensions of the clustering space: 5, or fewer for tiny inputs (at least 1)."""
    return max(1, min(5, n - 2))


def adaptive_min_cluster_size(n: int) -> int:
    """Smallest group HDBSCAN may form: the larger of sqrt(n)/2 and n/40, within [3, 50]."""
    return int(min(50, max(3, round(max(math.sqrt(n) / 2, n / 40)))))


def adaptive_min_samples(n: int) -> int:
    """HDBSCAN's noise conservativeness: 1 for a small batch, 2 from 100 people on."""
    return 1 if n < 100 else 2


def adaptive_params(n: int, params: PipelineParams | None = None) -> dict:
    """The resolved stage parameters for ``n`` people (explicit values win, capped by n)."""
    params = params or PipelineParams()
    chosen = {
        "n_neighbors": (params.n_neighbors, adaptive_n_neighbors(n)),
        "cluster_components": (params.cluster_components, adaptive_cluster_components(n)),
        "min_cluster_size": (params.min_cluster_size, adaptive_min_cluster_size(n)),
        "min_samples": (params.min_samples, adaptive_min_samples(n)),
    }
    resolved = {key: int(rule if given is None else given) for key, (given, rule) in chosen.items()}
    resolved["n_neighbors"] = max(1, min(resolved["n_neighbors"], n - 1))
    resolved["cluster_components"] = max(1, min(resolved["cluster_components"], max(1, n - 2)))
    resolved["min_cluster_size"] = max(2, min(resolved["min_cluster_size"], max(2, n)))
    resolved["min_samples"] = max(1, min(resolved["min_samples"], resolved["min_cluster_size"]))
    return resolved


def separation(labels: np.ndarray, vectors: np.ndarray) -> float:
    """Mean silhouette (cosine) over everyone, noise counting 0; -1 with fewer than two groups."""
    from sklearn.metrics import silhouette_score

    grouped = labels >= 0
    found = len(np.unique(labels[grouped]))
    if found < 2 or found >= grouped.sum():
        return -1.0
    sample = SILHOUETTE_SAMPLE if grouped.sum() > SILHOUETTE_SAMPLE else None
    grouped_score = silhouette_score(vectors[grouped], labels[grouped], metric="cosine",
                                     sample_size=sample, random_state=0)
    return float(grouped_score * grouped.mean())


def choose_selection(cuts: dict[str, np.ndarray], vectors) -> str:
    """The cut (a key of ``cuts``, labels by selection) whose groups stand apart best."""
    vectors = np.asarray(vectors, dtype=np.float64)
    scores = {name: separation(np.asarray(labels), vectors) for name, labels in cuts.items()}
    return max(cuts, key=lambda name: (scores[name], -list(cuts).index(name)))
