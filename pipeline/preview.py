"""The static PNG preview of a map, for chat: same colours, hulls and groups as the page.

Drawn with matplotlib's Agg canvas directly (no pyplot, so no global state and no
display needed). Text is drawn with ``parse_math=False`` so a ``$`` in a name or
keyword is just a dollar sign.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pipeline import mapview
from pipeline.hulls import MIN_HULL_POINTS, hull_outline
from pipeline.palette import NOISE_COLOUR, cluster_colours
from pipeline.result import NOISE, MapResult

DPI = 100
NAMES_UP_TO = 25  # small maps also show each person's name
LABEL_CHARS = 30


def render_png(
    result: MapResult,
    path: str | os.PathLike,
    names: dict[str, str] | None = None,
    width: int = 1200,
    height: int = 800,
    title: str | None = None,
) -> None:
    """Write a ``width`` × ``height`` PNG of the map; 3-D maps show their first two axes."""
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.02, 0.02, 0.96, 0.84))
    axes.set_axis_off()
    xy = mapview.points(result)[:, :2]
    _draw_groups(axes, result, xy)
    if 0 < len(result) <= NAMES_UP_TO:
        _draw_names(axes, result, xy, names)
    if not len(result):
        axes.text(0.5, 0.5, "No introductions yet", ha="center", transform=axes.transAxes)
    _draw_heading(figure, result, title)
    with warnings.catch_warnings():
        # A name in a script the installed fonts lack is drawn as boxes; that is no
        # reason to warn in the user's face (the interactive page shows it right).
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        warnings.filterwarnings("ignore", message="Matplotlib currently does not support")
        figure.savefig(path, dpi=DPI, format="png")


def _draw_groups(axes, result: MapResult, xy: np.ndarray) -> None:
    groups = mapview.groups(result)
    colours = cluster_colours(g.number for g in groups if g.number != NOISE)
    for group in groups:
        colour = colours.get(group.number, NOISE_COLOUR)
        pts = xy[group.indices]
        axes.scatter(pts[:, 0], pts[:, 1], s=28, color=colour, linewidths=0, zorder=2)
        if group.number == NOISE:
            continue
        outline = hull_outline(pts) if len(pts) >= MIN_HULL_POINTS else None
        if outline is not None:
            axes.fill(outline[:, 0], outline[:, 1], color=colour, alpha=0.15, zorder=1)
            axes.plot(outline[:, 0], outline[:, 1], color=colour, alpha=0.6, lw=1, zorder=1)
        _draw_group_label(axes, result, group, pts, colour)


def _draw_group_label(axes, result: MapResult, group: mapview.Group, pts, colour) -> None:
    phrase = mapview.best_phrase(result, group.number)
    label = f"{group.number} · {phrase}" if phrase else str(group.number)
    x, y = np.nanmean(pts, axis=0)
    axes.text(
        x, y, mapview.shorten(label, LABEL_CHARS), ha="center", va="center", fontsize=11,
        fontweight="bold", color="black", zorder=4, parse_math=False,
        bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": colour, "alpha": 0.85},
    )


def _draw_names(axes, result: MapResult, xy: np.ndarray, names) -> None:
    for index, (x, y) in enumerate(xy):
        name = mapview.display_name(result, index, names)
        axes.annotate(
            mapview.shorten(name, LABEL_CHARS), (x, y), xytext=(4, 4), textcoords="offset points",
            fontsize=8, color="#333333", zorder=3, parse_math=False,
        )


def _draw_heading(figure: Figure, result: MapResult, title: str | None) -> None:
    first, *rest = mapview.heading(result, title)
    figure.text(0.02, 0.95, first, fontsize=16, fontweight="bold", parse_math=False)
    figure.text(0.02, 0.90, "  ·  ".join(rest), fontsize=11, color="#444444", parse_math=False)
