"""The map page around the figure: search, groups beside the map, a person's card, and an
HTML list of every group's members under it, for keyboards, phones and screen readers.

One file that works offline. User text reaches the page two ways only, both inert: as
HTML-escaped text in the lists, and as JSON inside ``<script type="application/json">``
(never executed; ``<``, ``>`` and ``&`` are written as ``\\u`` escapes so nothing can
close the element). The script that reads it (``map_app.js``) sets text only
(``textContent``, an option's ``value``), and gives Plotly (the points' hover labels)
user text with ``&``, ``<`` and ``>`` escaped, as ``render.hover_text`` does. Each
person's text is in the page once: the script makes the points, their hover labels and
the search's suggestions from the data. The page's two scripts, plotly.js and ours, are
allowed by their SHA-256 hashes in the Content-Security-Policy; no other script, inline
handler or request is.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline import mapview
from pipeline.result import NOISE, MapResult

APP_SCRIPT = (Path(__file__).with_name("map_app.js")).read_text(encoding="utf-8")
SLIM_BUNDLE = Path(__file__).with_name("vendor") / "plotly-2d.min.js"  # how it is built: vendor/README.md
SLIM_TRACES = frozenset({"scatter", "scattergl"})  # the trace types it holds
SLIM_VERSION = "4.1.1"  # the plotly.js it was built from
NEAR_SHOWN = 5  # lines drawn to someone's nearest people
COORD_DECIMALS = 4  # of a point's place: a ten-thousandth of a map unit is far below a pixel
_JSON_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<header><h1>{heading}</h1>{subheadings}</header>
<main id="bv-main">
<div id="bv-mapcol">
<form id="bv-search" role="search">
<label for="bv-query">Find a person or an interest</label>
<input id="bv-query" type="search" list="bv-names" autocomplete="off">
<button type="submit">Find</button>
<datalist id="bv-names"></datalist>
</form>
<p id="bv-status" role="status" aria-live="polite"></p>
<div id="batchviz-map" role="img" aria-label="Map of the introductions; the same groups are listed as text below"></div>
</div>
<aside id="bv-side">
<section id="bv-found" aria-labelledby="bv-found-title" hidden>
<h2 id="bv-found-title"></h2>
<ul></ul>
</section>
<section id="bv-person" aria-labelledby="bv-person-name" hidden>
<h2 id="bv-person-name" tabindex="-1"></h2>
<p id="bv-person-group"></p>
<p id="bv-person-keywords"></p>
<p id="bv-person-intro"></p>
<p><a id="bv-person-dm" target="_blank" rel="noopener noreferrer" hidden>Send a direct message in Zulip</a></p>
<div id="bv-person-near" hidden><h3>Closest people</h3><ol></ol></div>
</section>
<section id="bv-groups" aria-labelledby="bv-groups-title">
<h2 id="bv-groups-title">Groups</h2>
<ul>{group_buttons}</ul>
</section>
</aside>
</main>
<section id="bv-list" aria-labelledby="bv-list-title">
<h2 id="bv-list-title">Everyone, by group</h2>
{group_lists}
</section>
<script type="application/json" id="bv-data">{data}</script>
<script>{plotly}</script>
<script>{app}</script>
</body>
</html>
"""

STYLE = """
html, body { margin: 0; font-family: sans-serif; color: #222; }
header { padding: 0.5rem 1rem; }
header h1 { font-size: 1.3rem; margin: 0.2rem 0; }
header p { margin: 0.1rem 0; color: #555; }
#bv-main { display: flex; gap: 1rem; padding: 0 1rem; }
#bv-mapcol { flex: 1 1 auto; min-width: 0; }
#bv-side { flex: 0 0 20rem; max-height: 80vh; overflow-y: auto; }
#batchviz-map { height: 75vh; min-height: 320px; }
#bv-search { display: flex; gap: 0.4rem; align-items: center; flex-wrap: wrap; }
#bv-search input { flex: 1 1 10rem; min-width: 0; font-size: 1rem; padding: 0.3rem; }
#bv-status { min-height: 1.2em; margin: 0.3rem 0; }
#bv-found ul { padding-left: 1.2rem; }
#bv-found button { font: inherit; background: none; border: none; padding: 0.1rem 0; cursor: pointer; text-align: left; text-decoration: underline; }
#bv-groups ul, #bv-list ul { list-style: none; padding: 0; margin: 0; }
#bv-groups button { display: block; width: 100%; text-align: left; margin: 0.15rem 0;
  padding: 0.35rem; background: #fff; border: 1px solid #ccc; border-radius: 4px; font: inherit; cursor: pointer; }
#bv-groups button[aria-pressed="true"] { border-color: #222; background: #eef; }
.bv-swatch { display: inline-block; width: 0.8em; height: 0.8em; border-radius: 50%; margin-right: 0.3em; }
.bv-words { display: block; color: #555; font-size: 0.9em; }
#bv-person { border: 1px solid #ccc; border-radius: 4px; padding: 0.5rem; margin-bottom: 0.8rem; }
#bv-person h2 { margin: 0 0 0.3rem; font-size: 1.15rem; overflow-wrap: anywhere; }
#bv-person p { overflow-wrap: anywhere; }
#bv-list { padding: 0.5rem 1rem 2rem; }
#bv-list section { margin-bottom: 1rem; content-visibility: auto; contain-intrinsic-size: auto 12rem; }
#bv-list h3 { margin: 0.6rem 0 0.2rem; font-size: 1.05rem; }
#bv-list li { display: inline-block; margin: 0.15rem; }
#bv-list button { font: inherit; padding: 0.3rem 0.5rem; background: #f6f6f6; border: 1px solid #ccc;
  border-radius: 4px; cursor: pointer; max-width: 100%; overflow-wrap: anywhere; text-align: left; }
button:focus-visible, input:focus-visible, a:focus-visible, h2:focus-visible { outline: 3px solid #1f5fbf; outline-offset: 2px; }
@media (max-width: 700px) {
  #bv-main { flex-direction: column; padding: 0 0.5rem; }
  #bv-side { flex: none; max-height: none; }
  #batchviz-map { height: 60vh; }
}
"""


def csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def plotly_script(figure: dict) -> tuple[str, str]:
    """The plotly.js a page of ``figure`` inlines, and its CSP hash: the slim 2-D build
    (``SLIM_BUNDLE``, a third of the size, so the map is drawn sooner) when it holds every
    trace type of the figure and is the version the Python package was made for; else the
    package's full bundle (3-D maps: ``scatter3d``)."""
    from plotly.offline import get_plotlyjs_version

    types = {trace.get("type", "scatter") for trace in figure.get("data", [])}
    slim = types <= SLIM_TRACES and get_plotlyjs_version() == SLIM_VERSION and SLIM_BUNDLE.exists()
    return _bundle("slim" if slim else "full")


@lru_cache(maxsize=2)
def _bundle(name: str) -> tuple[str, str]:
    if name == "slim":
        script = SLIM_BUNDLE.read_text(encoding="utf-8")
    else:
        from plotly.offline import get_plotlyjs

        script = get_plotlyjs()
    return script, csp_hash(script)


def content_security_policy(plotly_hash: str) -> str:
    """Scripts only by hash ('unsafe-eval' is for WebGL shaders); no request of any kind."""
    scripts = f"{plotly_hash} {csp_hash(APP_SCRIPT)} 'unsafe-eval'"
    return (f"default-src 'none'; script-src {scripts}; style-src 'unsafe-inline'; "
            "img-src data: blob:; font-src data:")


def inert_json(value) -> str:
    """JSON that is safe inside ``<script type="application/json">``."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_UNSAFE[m.group()], text)


def dm_link(site: str | None, person_id: str) -> str | None:
    """``<site>/#narrow/dm/<id>-user`` for a Zulip user (a numeric id) on an http(s) site."""
    if not site or not re.fullmatch(r"https?://[^\s\"'<>]+", site) or not person_id.isdigit():
        return None
    return f"{site.rstrip('/')}/#narrow/dm/{person_id}-user"


def _renamed(result: MapResult, index: int, names: dict[str, str] | None) -> bool:
    doc = result.people[index]
    return (names or {}).get(doc.person_id, doc.name) != doc.name


def people_data(result: MapResult, names, site) -> dict[str, list]:
    """What the script needs per person, a list per field (the names of the fields once,
    not once per person). The script draws the points and their hover labels from it:
    the page holds each text once. ``intro`` is in lines (``\\n``) as the hover shows it.
    Someone shown under a pseudonym gets no key and no DM link: either would tell who they are."""
    xyz = np.round(mapview.points(result), COORD_DECIMALS)
    labels = np.asarray(result.labels, dtype=int).reshape(-1)
    hidden = [_renamed(result, i, names) for i in range(len(result))]
    near = [result.neighbours[i] if i < len(result.neighbours) else [] for i in range(len(result))]
    return {
        "name": [mapview.display_name(result, i, names) for i in range(len(result))],
        "key": [None if hide else doc.person_id for doc, hide in zip(result.people, hidden)],
        "dm": [None if hide else dm_link(site, doc.person_id) for doc, hide in zip(result.people, hidden)],
        "group": labels.tolist(),
        "intro": ["\n".join(mapview.intro_lines(result, i, names)) for i in range(len(result))],
        "near": [[int(n.index) for n in row[:NEAR_SHOWN]] for row in near],
        **{axis: xyz[:, d].tolist() for d, axis in enumerate("xyz"[:xyz.shape[1]])},
    }


def groups_data(result: MapResult, groups, colours, curves: dict[int, int]) -> list[dict]:
    return [{
        "number": g.number,
        "name": mapview.group_name(result, g.number),
        "keywords": mapview.keywords(result, g.number),
        "size": len(g.indices),
        "colour": colours[g.number],
        "curve": curves[g.number],
        "member": mapview.group_membership(result, g.number),
    } for g in groups]


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _first_up(text: str) -> str:
    return text[:1].upper() + text[1:]


def _people_count(n: int) -> str:
    return f"{n} {'person' if n == 1 else 'people'}"


def group_button(group: dict) -> str:
    words = ", ".join(group["keywords"])
    about = f'<span class="bv-words">{_e(words)}</span>' if words else ""
    return (f'<li><button type="button" data-group="{group["number"]}" aria-pressed="false">'
            f'<span class="bv-swatch" style="background:{group["colour"]}"></span>'
            f'{_e(_first_up(group["name"]))} ({_people_count(group["size"])}){about}</button></li>')


def group_list(group: dict, people: dict[str, list], indices) -> str:
    words = ", ".join(group["keywords"])
    members = "".join(f'<li><button type="button" data-person="{int(i)}">{_e(people["name"][int(i)])}</button></li>'
                      for i in indices)
    about = f"{_people_count(group['size'])}" + (f" · {_e(words)}" if words else "")
    return (f'<section aria-labelledby="bv-g{group["number"]}"><h3 id="bv-g{group["number"]}">'
            f'{_e(_first_up(group["name"]))}</h3><p>{about}</p><ul>{members}</ul></section>')


def assemble(result: MapResult, title: str | None, figure: dict, people: dict[str, list],
             groups: list[dict], members: list) -> str:
    """The whole page; ``members[k]`` are the people of ``groups[k]``."""
    first, *rest = mapview.heading(result, title)
    plotly, plotly_hash = plotly_script(figure)
    show_all = '<li><button type="button" data-group="all" aria-pressed="true">All groups</button></li>'
    return PAGE.format(
        csp=content_security_policy(plotly_hash),
        title=_e(" · ".join(mapview.heading(result, title)[:2])),
        style=STYLE,
        heading=_e(first),
        subheadings="".join(f"<p>{_e(line)}</p>" for line in rest),
        group_buttons=show_all + "".join(group_button(g) for g in groups if g["number"] != NOISE)
        + "".join(group_button(g) for g in groups if g["number"] == NOISE),
        group_lists="".join(group_list(g, people, m) for g, m in zip(groups, members))
        or "<p>No introductions yet.</p>",
        data=inert_json({"figure": figure, "people": people, "groups": groups}),
        plotly=plotly,
        app=APP_SCRIPT,
    )
