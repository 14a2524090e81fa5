"""Cluster colours: one place that decides them, for the HTML map and the PNG preview.

The first colours come from well-known qualitative palettes (greys removed, so they
never look like noise); past those, hues step round the colour wheel by the golden
angle, so any number of clusters gets distinct colours.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable, Iterator
from itertools import chain

NOISE_COLOUR = "#9e9e9e"

# D3/Tableau category10 and Plotly's default qualitative palette.
BASE_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a",
    "#19d3f3", "#ff6692", "#b6e880", "#ff97ff", "#fecb52",
)
GOLDEN_ANGLE = 137.50776405003785 / 360.0
MIN_SATURATION = 0.25  # below this a colour reads as grey, i.e. as noise


def _hex(r: float, g: float, b: float) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(round(c * 255) for c in (r, g, b)))


def _rgb(colour: str) -> tuple[float, float, float]:
    value = colour.lstrip("#")
    return tuple(int(value[i : i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def _is_greyish(colour: str) -> bool:
    _, _, saturation = colorsys.rgb_to_hls(*_rgb(colour))
    return saturation < MIN_SATURATION


def _golden_hues() -> Iterator[str]:
    """Endless hues, alternating lightness and saturation so neighbours differ more."""
    levels = ((0.45, 0.75), (0.62, 0.70), (0.35, 0.85), (0.55, 0.55))
    step = 0
    while True:
        hue = (0.11 + step * GOLDEN_ANGLE) % 1.0
        lightness, saturation = levels[step % len(levels)]
        yield _hex(*colorsys.hls_to_rgb(hue, lightness, saturation))
        step += 1


def distinct_colours(n: int) -> list[str]:
    """``n`` different, non-grey colours as ``#rrggbb``; the first ones are the classic palette."""
    colours: list[str] = []
    seen = {NOISE_COLOUR}
    candidates = (c for c in BASE_COLOURS if not _is_greyish(c))
    for colour in chain(candidates, _golden_hues()):
        if len(colours) >= n:
            break
        if colour not in seen:
            seen.add(colour)
            colours.append(colour)
    return colours


def cluster_colours(numbers: Iterable[int]) -> dict[int, str]:
    """A colour per cluster number; a cluster keeps its colour while it keeps its number."""
    numbers = sorted(set(int(n) for n in numbers))
    if not numbers:
        return {}
    if numbers[0] >= 1 and numbers[-1] <= 4 * len(numbers) + 64:
        palette = distinct_colours(numbers[-1])
        return {n: palette[n - 1] for n in numbers}
    palette = distinct_colours(len(numbers))  # odd numbering: fall back to rank order
    return dict(zip(numbers, palette))


def rgba(colour: str, alpha: float) -> str:
    """``#rrggbb`` with transparency, as CSS ``rgba(...)``."""
    r, g, b = (round(c * 255) for c in _rgb(colour))
    return f"rgba({r},{g},{b},{alpha})"
