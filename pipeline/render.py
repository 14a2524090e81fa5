"""The interactive map: a self-contained Plotly page that works offline.

Every user-written string (names, introductions, keywords, the title, the notice) is
HTML-escaped before Plotly sees it, because Plotly draws hover labels, legend entries
and titles from a small HTML dialect (``<b>``, ``<a href>``…). The only markup on the
page is ours: ``<br>``, ``<b>`` and ``<sup>``. The page around the figure
(search, groups, the list view, the personal view) is ``pipeline.page``.
"""

from __future__ import annotations

import html
import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from pipeline import mapview, page
from pipeline.hulls import MIN_HULL_POINTS, hull_outline
from pipeline.palette import NOISE_COLOUR, cluster_colours, rgba
from pipeline.result import NOISE, MapResult

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
HULL_ALPHA = 0.15
MARKER_SIZE = {2: 10, 3: 5}
LABEL_CHARS = 40
GL_FROM = 2000  # from this many people, 2-D points are drawn with WebGL (scattergl): SVG gets slow


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


def _point_trace(result, group, xyz, colour, names, points: bool) -> go.Scatter | go.Scattergl | go.Scatter3d:
    size = MARKER_SIZE[xyz.shape[1]] if len(result) < GL_FROM else MARKER_SIZE[3]  # crowded: smaller
    marker = {"color": colour, "size": size, "line": {"width": 0}}
    common = dict(
        name=esc(group.label),
        legendgroup=str(group.number),
        mode="markers",
        marker=marker,
        hovertemplate="%{text}<extra></extra>",
    )
    if points:
        coords = xyz[group.indices]
        common.update(x=coords[:, 0], y=coords[:, 1], text=[hover_text(result, int(i), names) for i in group.indices])
        if xyz.shape[1] == 3:
            common["z"] = coords[:, 2]
    if xyz.shape[1] == 3:
        return go.Scatter3d(**common)
    kind = go.Scattergl if len(result) >= GL_FROM else go.Scatter
    return kind(**common)


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
    elif dims == 2:
        layout["annotations"] = _group_labels(result)
    return layout


def _group_labels(result: MapResult) -> list[dict]:
    """Each group's number and best phrase just above its people (2-D maps)."""
    xy = mapview.points(result)
    labels = []
    for group in mapview.groups(result):
        if group.number == NOISE:
            continue
        phrase = mapview.best_phrase(result, group.number)
        text = mapview.shorten(f"{group.number} · {phrase}" if phrase else str(group.number), LABEL_CHARS)
        x, y = float(np.nanmean(xy[group.indices, 0])), float(np.nanmax(xy[group.indices, 1]))
        labels.append({"x": x, "y": y, "yshift": 14, "text": esc(text), "showarrow": False,
                       "font": {"size": 12}, "bgcolor": "rgba(255,255,255,0.8)"})
    return labels


def build_figure(
    result: MapResult, title: str | None = None, names: dict[str, str] | None = None, points: bool = True
) -> go.Figure:
    """The Plotly figure: hulls first (underneath), then one trace per group. Without
    ``points`` the groups' traces have no coordinates and no hover text: the page's script
    fills them from its people data, so that the page holds each once."""
    xyz = mapview.points(result)
    groups = mapview.groups(result)
    colours = cluster_colours(g.number for g in groups if g.number != NOISE)
    colours[NOISE] = NOISE_COLOUR
    hulls = [] if xyz.shape[1] == 3 else [_hull_trace(g, xyz, colours[g.number]) for g in groups]
    traces = [_point_trace(result, g, xyz, colours[g.number], names, points) for g in groups]
    data = [hull for hull in hulls if hull is not None] + traces
    return go.Figure(data=data, layout=_layout(result, title, xyz.shape[1]))


def _overlay_traces(dims: int) -> list:
    """Empty traces the page's script fills: lines to someone's nearest people, then a ring
    around the person picked."""
    kind = go.Scatter3d if dims == 3 else go.Scatter
    empty = {"x": [], "y": [], **({"z": []} if dims == 3 else {})}
    lines = kind(**empty, mode="lines", line={"color": "#222222", "width": 2}, hoverinfo="skip",
                 showlegend=False, name="nearest")
    ring = kind(**empty, mode="markers+text", hoverinfo="skip", showlegend=False, name="picked",
                textposition="bottom center", textfont={"size": 14},
                marker={"size": 22, "color": "rgba(0,0,0,0)", "line": {"color": "#000000", "width": 3}})
    return [lines, ring]


def render_html(
    result: MapResult,
    title: str | None = None,
    names: dict[str, str] | None = None,
    site: str | None = None,
) -> str:
    """A complete HTML page with plotly.js inlined: no CDN, no fonts, no requests.

    ``site`` is the Zulip server's address when the map was built from Zulip: each person
    shown under their own name then gets a link that opens a DM with them.
    """
    figure = build_figure(result, title, names, points=False)
    groups = mapview.groups(result)
    first_point_trace = len(figure.data) - len(groups)
    figure.add_traces(_overlay_traces(mapview.points(result).shape[1]))
    figure.update_layout(title=None, showlegend=False, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    curves = {group.number: first_point_trace + offset for offset, group in enumerate(groups)}
    colours = cluster_colours(g.number for g in groups if g.number != NOISE)
    colours[NOISE] = NOISE_COLOUR
    people = page.people_data(result, names, site)
    group_rows = page.groups_data(result, groups, colours, curves)
    figure_json = json.loads(pio.to_json(figure, validate=False))
    figure_json["config"] = PLOTLY_CONFIG
    return page.assemble(result, title, figure_json, people, group_rows, [g.indices for g in groups])


def render_png(result: MapResult, path, **options) -> None:
    """The PNG preview (``pipeline.preview.render_png``): matplotlib is imported only when
    a preview is drawn, so a map without one spares its 0.5 s import."""
    from pipeline.preview import render_png as draw

    draw(result, path, **options)
