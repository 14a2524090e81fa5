"""How close two people are, in words calibrated on the batch itself.

A raw cosine means little to a reader ("61% similar" reads as "61% alike") and its
scale depends on the model and on how long the introductions are: among short intros a
good match can be 0.35. So the words come from the batch's own nearest-neighbour
similarities, i.e. from every similarity the map stores (each person's closest few):

- "very close": in the top ``VERY_CLOSE_SHARE`` of them,
- "close": in the top ``CLOSE_SHARE``,
- "some overlap": the rest.

A pair is thus "very close" when few neighbours in this batch are closer than they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.result import MapResult

VERY_CLOSE_SHARE = 0.2
CLOSE_SHARE = 0.6
WORDS = ("very close", "close", "some overlap")


@dataclass(frozen=True)
class Scale:
    very_close: float  # similarity at or above which a pair is "very close"
    close: float

    def words(self, similarity: float) -> str:
        if similarity >= self.very_close:
            return WORDS[0]
        return WORDS[1] if similarity >= self.close else WORDS[2]


def calibrate(result: MapResult) -> Scale:
    """Thresholds at the batch's percentiles of its stored neighbour similarities."""
    values = np.array([n.similarity for row in result.neighbours for n in row], dtype=float)
    if not len(values):
        return Scale(float("inf"), float("-inf"))  # nobody to compare with: "close" for all
    very, close = np.quantile(values, [1 - VERY_CLOSE_SHARE, 1 - CLOSE_SHARE])
    return Scale(float(very), float(close))
