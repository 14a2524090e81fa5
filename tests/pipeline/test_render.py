"""The map page and PNG preview, checked from the figure data, the HTML and the pixels."""

import base64
import dataclasses
import hashlib
import html
import json
import re

import pytest
from PIL import Image

from fake_maps import HOSTILE_NAMES, fake_map
from pipeline.documents import Document
from pipeline.palette import NOISE_COLOUR, cluster_colours, distinct_colours
from pipeline.render import build_figure, hover_text, render_html, render_png

SCRIPT_OPEN = re.compile(r"<script\b", re.IGNORECASE)
SCRIPT_CLOSE = re.compile(r"</script", re.IGNORECASE)


def point_traces(fig):
    return [t for t in fig.data if t.hoverinfo != "skip"]


def hull_traces(fig):
    return [t for t in fig.data if t.hoverinfo == "skip"]


@pytest.fixture(scope="module")
def hostile():
    return fake_map(sizes=(3, 2), noise=len(HOSTILE_NAMES) - 5, names=HOSTILE_NAMES)


def test_every_person_appears_once_with_escaped_name(hostile):
    """Each person has exactly one point whose hover text starts with their escaped name."""
    texts = [text for t in point_traces(build_figure(hostile)) for text in t.text]
    assert len(texts) == len(hostile)
    for name in HOSTILE_NAMES:
        first = f"<b>{html.escape(name, quote=False)}</b><br>"
        assert sum(text.startswith(first) for text in texts) == 1


def test_no_raw_user_markup_reaches_plotly(hostile):
    """No user-written string reaches the figure unescaped: only our own tags remain."""
    fig = build_figure(hostile, title="<i>title</i>")
    strings = [s for t in fig.data for s in [t.name, *(t.text or [])]] + [fig.layout.title.text]
    tags = {tag for s in strings for tag in re.findall(r"</?([a-z]+)", s)}
    assert tags <= {"b", "br", "sup"}


def test_script_end_cannot_appear_raw_in_page(hostile):
    """A ``</script>`` in a name cannot close the inlined script: open and close tags pair up."""
    page = render_html(hostile, title="</script><script>window.pwned=1</script>")
    assert "window.pwned=1</script>" not in page
    assert len(SCRIPT_OPEN.findall(page)) == len(SCRIPT_CLOSE.findall(page))


def test_page_is_offline_with_content_security_policy(hostile):
    """Plotly.js is inlined, nothing is loaded from elsewhere, and a CSP forbids requests."""
    page = render_html(hostile)
    assert "Plotly.newPlot" in page and len(page) > 1_000_000
    assert not re.search(r"<(script|img|iframe)[^>]+src=|<link\b", page, re.IGNORECASE)
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp and csp.group(1).startswith("default-src 'none';")


def test_2d_pages_inline_the_slim_plotly_and_3d_pages_the_full_one():
    """A 2-D map inlines the vendored scatter + scattergl build (a third of the full
    bundle's size), a 3-D one the Python package's full bundle; the CSP allows exactly
    the script inlined."""
    from plotly.offline import get_plotlyjs

    from pipeline import page as page_module

    slim, full = page_module.SLIM_BUNDLE.read_text(encoding="utf-8"), get_plotlyjs()
    assert len(slim) < len(full) / 3
    for dims, inlined, other in ((2, slim, full), (3, full, slim)):
        html_page = render_html(fake_map(sizes=(4, 3), noise=2, dims=dims))
        csp = re.search(r'Content-Security-Policy" content="([^"]+)"', html_page).group(1)
        assert inlined in html_page and page_module.csp_hash(inlined) in csp
        assert other not in html_page and page_module.csp_hash(other) not in csp


def test_the_slim_plotly_is_the_build_its_readme_records():
    """The vendored bundle is byte for byte the one vendor/README.md gives the sha256 of
    (made by vendor/build-plotly-2d.sh), and says which plotly.js it is."""
    from pipeline import page as page_module

    bundle = page_module.SLIM_BUNDLE.read_bytes()
    readme = (page_module.SLIM_BUNDLE.parent / "README.md").read_text(encoding="utf-8")
    assert hashlib.sha256(bundle).hexdigest() in readme
    assert f"v{page_module.SLIM_VERSION}" in bundle[:400].decode("utf-8")


def test_names_mapping_replaces_real_names_in_labels_and_intros():
    """With a names mapping, hovers show the mapped names; real names vanish from the intros too."""
    result = fake_map(sizes=(3,), noise=0, names=["Ada Lovelace", "Alan Turing", "Grace Hopper"])
    result.people[0] = Document("id0", "Ada Lovelace", "I'm ada. ADA LOVELACE here.")
    names = {"id0": "Pseudo 0", "id1": "Pseudo 1"}
    texts = [t.text for t in point_traces(build_figure(result, names=names))][0]
    shown = [text.split("<br>")[0] for text in texts]
    assert shown == ["<b>Pseudo 0</b>", "<b>Pseudo 1</b>", "<b>Grace Hopper</b>"]
    assert texts[0].endswith("I'm Pseudo 0. Pseudo 0 here.")
    hidden = ("ada", "lovelace", "alan", "turing")
    assert not any(word in text.lower() for text in texts for word in hidden)
    assert "Hi, I am Grace Hopper" in texts[2]


def test_hover_shows_group_keywords_and_wrapped_intro():
    """Hover: name, group number with its keywords, then the intro cut near 200 characters."""
    result = fake_map(sizes=(3,), noise=0, keywords={1: ["rust", "<b>bold</b>"]})
    result.people[0] = Document("id0", "Ann", "word " * 400)
    lines = hover_text(result, 0).split("<br>")
    assert lines[:2] == ["<b>Ann</b>", "group 1 · rust, &lt;b&gt;bold&lt;/b&gt;"]
    intro = " ".join(lines[2:])
    assert len(lines) > 3 and intro.startswith("word word") and 150 < len(intro) <= 210


def test_legend_names_clusters_and_noise():
    """Legend entries read "number · keywords" and the noise trace is "not in a group"."""
    result = fake_map(sizes=(3, 3), noise=2, keywords={1: ["rust", "go", "c", "zig"], 2: []})
    names = [t.name for t in point_traces(build_figure(result))]
    assert names == ["1 · rust, go, c", "2", "not in a group"]


def test_thirty_clusters_get_thirty_distinct_colours():
    """Past any fixed palette, every cluster still gets its own colour, never the noise grey."""
    fig = build_figure(fake_map(sizes=(2,) * 30, noise=3))
    colours = [t.marker.color for t in point_traces(fig)]
    assert len(set(colours[:30])) == 30 and NOISE_COLOUR not in colours[:30]
    assert colours[30] == NOISE_COLOUR


def test_palette_has_no_greys_or_repeats_even_for_many_clusters():
    """A few hundred colours are all different and all clearly coloured."""
    colours = distinct_colours(300)
    assert len(set(colours)) == 300
    for colour in colours:
        r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert max(r, g, b) - min(r, g, b) > 40


def test_cluster_keeps_its_colour_when_others_come_and_go():
    """Colours follow cluster numbers, so a persistent group keeps its colour."""
    assert cluster_colours([1, 2, 5])[5] == cluster_colours([5, 7])[5]


def test_hulls_only_around_clusters_of_three_or_more():
    """Clusters of 5 and 3 get a filled hull without hover; clusters of 2 and 1 do not."""
    fig = build_figure(fake_map(sizes=(5, 3, 2, 1), noise=2))
    hulls = hull_traces(fig)
    assert sorted(t.legendgroup for t in hulls) == ["1", "2"]
    assert all(t.fill == "toself" and t.showlegend is False for t in hulls)


def test_collinear_and_duplicate_clusters_do_not_crash():
    """Collinear points get a segment as their outline; identical points get none."""
    result = fake_map(sizes=(3, 3), noise=0)
    result.coords[:3] = [[0, 0], [1, 1], [2, 2]]
    result.coords[3:] = [[5, 5]] * 3
    hulls = hull_traces(build_figure(result))
    assert [(t.legendgroup, len(t.x)) for t in hulls] == [("1", 2)]


def test_three_dimensional_map_uses_scatter3d_without_hulls():
    """Coordinates with three columns draw a 3-D scatter, one trace per group, no hulls."""
    result = fake_map(sizes=(4, 3), noise=1, dims=3)
    fig = build_figure(result)
    assert [t.type for t in fig.data] == ["scatter3d"] * 3
    assert sum(len(t.x) for t in fig.data) == len(result)


def test_title_has_date_counts_and_notice():
    """The title shows the build date, people/group/noise counts and the notice, escaped."""
    result = fake_map(sizes=(3, 2), noise=1, notice="too few <people>")
    title = build_figure(result, title="Batch & co").layout.title.text
    assert title.startswith("Batch &amp; co<br>")
    assert "2026-11-29" in title and "6 people · 2 groups · 1 not in a group" in title
    assert "too few &lt;people&gt;" in title


@pytest.mark.parametrize("n", [0, 1, 2])
def test_tiny_maps_render(n, tmp_path):
    """Zero, one or two people (all noise) render to a page and a PNG."""
    result = fake_map(sizes=(), noise=n, notice="too few people to form groups")
    page = render_html(result)
    assert f"{n} {'person' if n == 1 else 'people'} · 0 groups" in page
    render_png(result, tmp_path / "tiny.png")
    assert Image.open(tmp_path / "tiny.png").size == (1200, 800)


def test_png_of_names_in_any_script_warns_nothing(tmp_path, recwarn):
    """Names in scripts the fonts lack (CJK, Arabic, emoji) draw without a warning."""
    names = ["日本語の名前", "مرحبا بكم", "👩‍💻 Dev", "ᚠᚢᚦ", "Ἀθηνᾶ", "ग़ज़ल"]
    render_png(fake_map(sizes=(3,), noise=3, names=names), tmp_path / "scripts.png")
    assert [str(w.message) for w in recwarn] == []


@pytest.mark.parametrize("dims", [2, 3])
def test_png_has_requested_size_and_cluster_colours(dims, tmp_path):
    """The PNG is a valid image of the asked size, painted with the page's cluster colours."""
    result = fake_map(sizes=(6, 5), noise=3, dims=dims, names=["$x$ ^{"] + HOSTILE_NAMES * 3)
    path = tmp_path / "map.png"
    render_png(result, path, width=640, height=480)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (640, 480)
        pixels = {rgb[:3] for _, rgb in image.convert("RGB").getcolors(640 * 480)}
    for colour in [*cluster_colours([1, 2]).values(), NOISE_COLOUR]:
        assert tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5)) in pixels


def test_huge_names_and_texts_are_shortened():
    """A 10,000-character name or introduction does not blow up the hover label."""
    result = fake_map(sizes=(3,), noise=0, names=["N" * 10_000, "b", "c"])
    result.people[1] = Document("id1", "b", "x" * 10_000)
    assert max(len(hover_text(result, i)) for i in range(3)) < 400


SCRIPTS = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.DOTALL | re.IGNORECASE)


def test_every_inline_script_is_allowed_by_its_hash_and_nothing_else_is():
    """script-src lists the SHA-256 of each executable inline script, without 'unsafe-inline'."""
    page = render_html(fake_map())
    csp = re.search(r'Content-Security-Policy" content="([^"]+)"', page).group(1)
    script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src
    executable = [m["body"] for m in SCRIPTS.finditer(page) if "application/json" not in m["attrs"]]
    hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in executable}
    assert len(executable) == 2 and hashes == set(re.findall(r"'sha256-[^']+'", script_src))


def test_page_data_is_inert_json_with_hostile_names(hostile):
    """The data block parses back to the same names, and holds no raw ``<`` or ``&``."""
    page = render_html(hostile)
    block = re.search(r'<script type="application/json" id="bv-data">(.*?)</script>', page, re.DOTALL).group(1)
    assert "<" not in block and "&" not in block
    assert json.loads(block)["people"]["name"] == [" ".join(n.split()) for n in HOSTILE_NAMES]
    listed = re.findall(r'data-person="\d+">([^<]*)</button>', page)
    assert sorted(html.unescape(n) for n in listed) == sorted(" ".join(n.split()) for n in HOSTILE_NAMES)


def page_people(page):
    """The page's people, one dict each (the page sends a list per field)."""
    block = re.search(r'id="bv-data">(.*?)</script>', page, re.DOTALL).group(1)
    columns = json.loads(block)["people"]
    return [dict(zip(columns, row)) for row in zip(*columns.values())]


def test_dm_links_only_for_zulip_users_shown_by_name():
    """A numeric id on an http(s) site gets a DM link; a pseudonymised person gets no key nor link."""
    result = fake_map(sizes=(3,), noise=0)
    result.people[:2] = [dataclasses.replace(doc, person_id=pid) for doc, pid in zip(result.people, ["17", "18"])]
    people = page_people(render_html(result, names={"18": "Calm Otter"}, site="https://chat.example.org/"))
    assert people[0]["dm"] == "https://chat.example.org/#narrow/dm/17-user" and people[0]["key"] == "17"
    assert people[1]["dm"] is None and people[1]["key"] is None and people[1]["name"] == "Calm Otter"
    assert people[2]["dm"] is None and people[2]["key"] == "id2"
    for site in ("javascript:alert(1)", "https://x.org/\"><b>", None):
        assert page_people(render_html(result, site=site))[0]["dm"] is None


def test_group_labels_use_the_best_phrase():
    """Labels on the map and in the group list name a group by its first multi-word keyword."""
    result = fake_map(sizes=(3, 3), noise=0, keywords={1: ["type", "static type systems", "rust"],
                                                       2: ["chess", "go"]})
    labels = [a.text for a in build_figure(result).layout.annotations]
    assert labels == ["1 · static type systems", "2 · chess, go"]
    page = render_html(result)
    assert "Group 1 · static type systems (3 people)" in page and "Group 2 · chess, go (3 people)" in page


# A 20,000-person page must stay under 15 MB. plotly.js takes about 4.8 MB of it whatever
# the size, which leaves about 500 bytes a person for everything else.
PAGE_BYTES_PER_PERSON = 500


def zulip_map(n: int):
    """n people as a Zulip map has them: real-length introductions (the demo's and the
    benchmark batches', cycled), full names, numeric ids with DM links, five neighbours
    each, in groups of about 30."""
    import csv
    from pathlib import Path

    from pipeline.result import Neighbour

    root = Path(__file__).resolve().parents[2]
    files = [root / "pipeline" / "demo_data" / "introductions.csv", *(root / "benchmarks" / "data").glob("*.csv")]
    rows = [row for path in sorted(files) for row in csv.DictReader(path.open(encoding="utf-8"))]
    groups = n // 30
    result = fake_map(sizes=(30,) * groups, noise=n - 30 * groups, seed=n)
    result.people[:] = [Document(str(1000 + i), f"{rows[i % len(rows)]['name']} {i}", rows[i % len(rows)]["text"])
                        for i in range(n)]
    result.neighbours[:] = [[Neighbour((i + d) % n, 0.5, ["rust"]) for d in range(1, 6)] for i in range(n)]
    return result


def test_page_grows_by_a_bounded_number_of_bytes_per_person():
    """Each person adds at most PAGE_BYTES_PER_PERSON to the page (measured between 300 and
    600 people, so plotly.js and the page's own fixed parts do not count), DM links included."""
    size = {n: len(render_html(zulip_map(n), site="https://chat.example.org").encode("utf-8")) for n in (300, 600)}
    per_person = (size[600] - size[300]) / 300
    assert per_person <= PAGE_BYTES_PER_PERSON, f"{per_person:.0f} bytes a person"
