"""The interactive map: a self-contained Plotly page that works offline.

Every user-written string (names, introductions, keywords, the title, the notice) is
HTML-escaped before Plotly sees it, because Plotly draws hover labels, legend entries
and titles from a small HTML dialect (``<b>``, ``<a href>``…). The only markup on the
page is ours: ``<br>``, ``<b>`` and ``<sup>``. Plotly's JSON encoder escapes ``<``,
``>`` and ``/``, so no string can close the inlined ``<script>``; a
Content-Security-Policy forbids the page every network request.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from pipeline import mapview
from pipeline.hulls import MIN_HULL_POINTS, hull_outline
from pipeline.palette import NOISE_COLOUR, cluster_colours, rgba
from pipeline.preview import render_png  # noqa: F401  (part of this module's contract)
from pipeline.result import NOISE, MapResult

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:"
)
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
HULL_ALPHA = 0.15
MARKER_SIZE = {2: 10, 3: 5}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>html, body {{ height: 100%; margin: 0; font-family: sans-serif; }}</style>
</head>
<body>
{figure}
</body>
</html>
"""


def esc(text: str) -> str:
    """User text made inert for Plotly's HTML dialect.

    Only ``&``, ``<`` and ``>``: without ``<`` Plotly sees no tag, and Plotly decodes
    ``&amp;``/``&lt;``/``&gt;`` but would show ``&quot;`` literally.
    """
    return html.escape(str(text), quote=False)


def hover_text(result: MapResult, index: int, names: dict[str, str] | None = None) -> str:
    """Name, group and keywords, start of the introduction: escaped, joined by ``<br>``."""
    name = f"<b>{esc(mapview.display_name(result, index, names))}</b>"
    rest = [mapview.membership(result, index), *mapview.intro_lines(result, index, names)]
    return "<br>".join([name, *(esc(line) for line in rest)])


def title_html(result: MapResult, title: str | None = None) -> str:
    first, *rest = (esc(line) for line in mapview.heading(result, title))
    return "<br>".join([first, *(f"<sup>{line}</sup>" for line in rest)])


def _point_trace(result, group, xyz, colour, names) -> go.Scatter | go.Scatter3d:
    coords = xyz[group.indices]
    marker = {"color": colour, "size": MARKER_SIZE[xyz.shape[1]], "line": {"width": 0}}
    common = dict(
        name=esc(group.label),
        legendgroup=str(group.number),
        mode="markers",
        marker=marker,
        text=[hover_text(result, int(i), names) for i in group.indices],
        hovertemplate="%{text}<extra></extra>",
    )
    if xyz.shape[1] == 3:
        return go.Scatter3d(x=coords[:, 0], y=coords[:, 1], z=coords[:, 2], **common)
    return go.Scatter(x=coords[:, 0], y=coords[:, 1], **common)


def _hull_trace(group, xyz, colour) -> go.Scatter | None:
    """A filled outline around a cluster of at least three points; never around noise."""
    if group.number == NOISE or len(group.indices) < MIN_HULL_POINTS:
        return None
    outline = hull_outline(xyz[group.indices])
    if outline is None:
        return None
    return go.Scatter(
        x=outline[:, 0],
        y=outline[:, 1],
        mode="lines",
        fill="toself",
        fillcolor=rgba(colour, HULL_ALPHA),
        line={"color": rgba(colour, 0.6), "width": 1},
        hoverinfo="skip",
        showlegend=False,
        legendgroup=str(group.number),
        name=f"hull {group.number}",
    )


def _layout(result: MapResult, title: str | None, dims: int) -> dict:
    hidden = {"showgrid": False, "zeroline": False, "showticklabels": False, "title": ""}
    layout = {
        "title": {"text": title_html(result, title), "x": 0.02},
        "legend": {"title": {"text": "groups"}, "itemsizing": "constant"},
        "hovermode": "closest",
        "plot_bgcolor": "white",
        "margin": {"l": 20, "r": 20, "t": 110, "b": 20},
    }
    if dims == 3:
        layout["scene"] = {"xaxis": hidden, "yaxis": hidden, "zaxis": hidden}
    else:
        layout.update(xaxis=hidden, yaxis={**hidden, "scaleanchor": "x"})
    if not len(result):
        layout["annotations"] = [{"text": "No introductions yet", "showarrow": False}]
    return layout


def build_figure(
    result: MapResult, title: str | None = None, names: dict[str, str] | None = None
) -> go.Figure:
    """The Plotly figure: hulls first (underneath), then one trace per group."""
    xyz = mapview.points(result)
    groups = mapview.groups(result)
    colours = cluster_colours(g.number for g in groups if g.number != NOISE)
    colours[NOISE] = NOISE_COLOUR
    hulls = [] if xyz.shape[1] == 3 else [_hull_trace(g, xyz, colours[g.number]) for g in groups]
    traces = [_point_trace(result, g, xyz, colours[g.number], names) for g in groups]
    data = [hull for hull in hulls if hull is not None] + traces
    return go.Figure(data=data, layout=_layout(result, title, xyz.shape[1]))


def render_html(
    result: MapResult, title: str | None = None, names: dict[str, str] | None = None
) -> str:
    """A complete HTML page with plotly.js inlined: no CDN, no fonts, no requests."""
    figure = build_figure(result, title, names).to_html(
        full_html=False,
        include_plotlyjs=True,
        config=PLOTLY_CONFIG,
        div_id="batchviz-map",
        default_height="100%",
    )
    page_title = " · ".join(mapview.heading(result, title)[:2])
    return PAGE.format(csp=CONTENT_SECURITY_POLICY, title=html.escape(page_title), figure=figure)
