"""Outlines drawn around 2-D clusters: a convex hull, or a segment when points are collinear."""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull, QhullError

MIN_HULL_POINTS = 3


def hull_outline(points: np.ndarray) -> np.ndarray | None:
    """A closed outline ``(k, 2)`` around ``points`` (first two columns), or None.

    None when there are fewer than ``MIN_HULL_POINTS`` points or they all coincide.
    Collinear points (Qhull cannot make an area of them) give the segment between the
    two extreme points.
    """
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or len(points) < MIN_HULL_POINTS or points.shape[1] < 2:
        return None
    flat = points[:, :2]
    flat = np.unique(flat[np.all(np.isfinite(flat), axis=1)], axis=0)
    if len(flat) < 2:
        return None
    if len(flat) >= 3:
        try:
            ring = flat[ConvexHull(flat).vertices]
            return np.vstack([ring, ring[:1]])
        except QhullError:
            pass
    return _segment(flat)


def _segment(points: np.ndarray) -> np.ndarray:
    """The two extreme points along the direction the points spread most."""
    axis = int(np.argmax(np.ptp(points, axis=0)))
    order = np.argsort(points[:, axis])
    return points[[order[0], order[-1]]]
