"""The map page in headless Chromium: it renders offline, hovers right, and stays inert."""

import dataclasses
import html
import http.server
import os
import threading
from pathlib import Path

import pytest
from PIL import Image
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from fake_maps import HOSTILE_NAMES, fake_map
from pipeline.palette import cluster_colours
from pipeline import render
from pipeline.render import render_html
from pipeline.result import Neighbour

pytestmark = pytest.mark.browser

HOSTILE_KEYWORDS = [
    "<img src=x onerror=alert(1)>",
    "</script><script>window.pwned=1</script>",
    "<a href='https://evil.example/'>eve</a>",
]
EVIL_TITLE = "<a href='https://evil.example/'>batch</a>"

READY = """
const gd = document.querySelector('.js-plotly-plot');
return !!(gd && gd._fullLayout && gd._fullData);
"""
TRACES = """
const gd = document.querySelector('.js-plotly-plot');
return gd._fullData.map(t => ({name: t.name, type: t.type, text: t.text || null,
                               hoverinfo: t.hoverinfo, colour: (t.marker || {}).color}));
"""
HOVER = """
const [curve, point, done] = arguments;
const gd = document.querySelector('.js-plotly-plot');
const hovered = () => (gd._hoverdata || []).some(
  d => d.curveNumber === curve && d.pointNumber === point);
// Plotly throttles hover events: ask again until the label is this point's.
const report = () => {
  const label = document.querySelector('.hoverlayer .hovertext');
  if (!hovered() || !label) {
    Plotly.Fx.hover(gd, [{curveNumber: curve, pointNumber: point}]);
    return setTimeout(report, 60);
  }
  done([label.textContent, label.querySelectorAll('tspan[style*="bold"]').length]);
};
report();
"""
INJECTED = """
return {pwned: typeof window.pwned, imgs: document.querySelectorAll('img').length,
        handlers: document.querySelectorAll('[onerror],[onload]').length,
        links: document.querySelectorAll('a[href], a[*|href]').length,
        groups: Array.from(document.querySelectorAll('#bv-groups button')).map(e => e.textContent),
        title: document.title};
"""


def open_map(browser, tmp_path, result, **kwargs):
    """Write the page to a file, open it, wait for Plotly, return the rendered traces."""
    path = tmp_path / "map.html"
    path.write_text(render_html(result, **kwargs), encoding="utf-8")
    browser.get(path.as_uri())
    WebDriverWait(browser, 60).until(lambda b: b.execute_script(READY))
    return browser.execute_script(TRACES)


@pytest.fixture
def hostile_page(browser, tmp_path):
    names = HOSTILE_NAMES + ["Bo", "Cy"]
    keywords = {1: HOSTILE_KEYWORDS, 2: ["chess"]}
    result = fake_map(sizes=(4, 3), noise=len(names) - 7, names=names, keywords=keywords)
    traces = open_map(browser, tmp_path, result, title=EVIL_TITLE)
    return result, traces


def test_every_person_is_in_the_rendered_traces(hostile_page):
    """Plotly's rendered data holds one point per person, each with its escaped name first."""
    result, traces = hostile_page
    texts = [text for t in traces if t["hoverinfo"] != "skip" for text in t["text"]]
    firsts = sorted(text.split("<br>")[0] for text in texts)
    assert firsts == sorted(f"<b>{html.escape(doc.name, quote=False)}</b>" for doc in result.people)
    assert sorted(texts) == sorted(render.hover_text(result, i) for i in range(len(result)))  # made in the page


def test_hover_label_shows_names_as_literal_text(hostile_page, browser):
    """Hovering a point shows the hostile name as plain characters, in bold, then its group."""
    result, traces = hostile_page
    curves = [i for i, t in enumerate(traces) if t["hoverinfo"] != "skip"]
    for curve in curves:
        for point, text in enumerate(traces[curve]["text"]):
            shown, bold = browser.execute_async_script(HOVER, curve, point)
            name = html.unescape(text.split("<br>")[0][3:-4])
            assert shown.startswith(name) and bold == 1
            assert html.unescape(text.split("<br>")[1]) in shown


def test_hostile_strings_never_execute_or_become_elements(hostile_page, browser):
    """No script runs, no alert opens, no img or link is made from names, keywords or title."""
    _, traces = hostile_page
    state = browser.execute_script(INJECTED)
    assert state["pwned"] == "undefined"
    assert state["imgs"] == state["handlers"] == state["links"] == 0
    assert state["groups"][1].endswith(f"(4 people){', '.join(HOSTILE_KEYWORDS)}")
    assert state["title"].startswith(EVIL_TITLE)


class Recorder(http.server.BaseHTTPRequestHandler):
    """Remembers every path asked for, on the server's ``hits`` list."""

    def do_GET(self):
        self.server.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def listener():
    """A loopback HTTP server that records requests: where a leak would land."""
    server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    server.hits = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


LEAK = """
const done = arguments[arguments.length - 1];
document.addEventListener('securitypolicyviolation', e => done(e.violatedDirective), {once: true});
new Image().src = arguments[0];
"""
COUNT = "return document.querySelectorAll(arguments[0]).length"


def test_page_cannot_send_requests(browser, tmp_path, listener):
    """The Content-Security-Policy blocks an image request to a local server; Plotly still draws."""
    result = fake_map()
    open_map(browser, tmp_path, result)
    blocked = browser.execute_async_script(LEAK, f"http://127.0.0.1:{listener.server_port}/leak")
    assert blocked.startswith("img-src") and listener.hits == []
    assert browser.execute_script(COUNT, ".main-svg .point") == len(result)


def test_screenshot_shows_the_cluster_colours(browser, tmp_path):
    """A screenshot of the page is not blank: the first cluster's colour is on screen."""
    open_map(browser, tmp_path, fake_map(sizes=(8, 6), noise=2))
    shot = tmp_path / "shot.png"
    assert browser.save_screenshot(str(shot))
    with Image.open(shot) as image:
        colours = {rgb for _, rgb in image.convert("RGB").getcolors(image.width * image.height)}
    want = tuple(int(cluster_colours([1])[1][i : i + 2], 16) for i in (1, 3, 5))
    assert len(colours) > 20
    assert any(sum(abs(a - b) for a, b in zip(rgb, want)) < 12 for rgb in colours)


def test_three_dimensional_map_renders(browser, tmp_path):
    """A 3-D map renders as scatter3d traces in a WebGL scene with everyone in it."""
    result = fake_map(sizes=(4, 3), noise=2, dims=3)
    traces = open_map(browser, tmp_path, result)
    assert {t["type"] for t in traces} == {"scatter3d"}
    assert sum(len(t["text"]) for t in traces if t["hoverinfo"] != "skip") == len(result)
    assert browser.execute_script(COUNT, ".gl-container canvas") >= 1


# ---- exploring the map: search, personal view, a person's card, groups, list view ------

# The README's screenshots: refreshed only on request (`BATCHVIZ_SCREENSHOTS=1 make test`),
# so that a test run leaves the checkout as it found it.
DOCS = Path(__file__).resolve().parents[2] / "docs"
SITE = "https://zulip.example.com"
PAGE_READY = "return document.getElementById('batchviz-map').getAttribute('data-ready') === 'true'"
PICKED = "return document.getElementById('batchviz-map').getAttribute('data-picked')"
PIXEL = """
const gd = document.getElementById('batchviz-map'), fl = gd._fullLayout, [x, y] = arguments;
return [fl.xaxis.l2p(x) - fl.xaxis._length / 2, fl.yaxis.l2p(y) - fl.yaxis._length / 2,
        fl._size.l + fl.xaxis.l2p(x) - gd.clientWidth / 2, fl._size.t + fl.yaxis.l2p(y) - gd.clientHeight / 2];
"""
OVERLAY = """
const gd = document.getElementById('batchviz-map'), n = gd.data.length;
return {lines: [gd.data[n - 2].x, gd.data[n - 2].y], ring: [gd.data[n - 1].x, gd.data[n - 1].y],
        labels: Array.from(gd.querySelectorAll('.scatterlayer .trace:last-child .textpoint')).map(e => e.textContent).filter(t => t)};
"""
CARD = """
const text = id => document.getElementById(id).textContent;
const dm = document.getElementById('bv-person-dm');
return {hidden: document.getElementById('bv-person').hidden, name: text('bv-person-name'),
        group: text('bv-person-group'), keywords: text('bv-person-keywords'), intro: text('bv-person-intro'),
        dm: dm.hidden ? null : dm.getAttribute('href'),
        near: Array.from(document.querySelectorAll('#bv-person-near li')).map(e => e.textContent)};
"""


def explore_map(sizes=(5, 4, 3), noise=2, **kwargs):
    """A fake map of Zulip users (numeric ids), each with the next three people as neighbours."""
    result = fake_map(sizes=sizes, noise=noise, **kwargs)
    n = len(result)
    result.people = [dataclasses.replace(doc, person_id=str(100 + i)) for i, doc in enumerate(result.people)]
    result.neighbours = [[Neighbour((i + d) % n, 0.5) for d in (1, 2, 3)] for i in range(n)]
    return result


def open_page(browser, tmp_path, result, fragment="", **kwargs):
    """Open the rendered page (plus a fragment) and wait until its script has drawn the map."""
    path = tmp_path / "explore.html"
    path.write_text(render_html(result, **kwargs), encoding="utf-8")
    browser.get(path.as_uri() + fragment)
    WebDriverWait(browser, 60).until(lambda b: b.execute_script(PAGE_READY))


def wait_picked(browser, index):
    WebDriverWait(browser, 20).until(lambda b: b.execute_script(PICKED) == str(index))


def screenshot(browser, tmp_path, name):
    folder = DOCS if os.environ.get("BATCHVIZ_SCREENSHOTS") == "1" else tmp_path
    assert browser.save_screenshot(str(folder / name))


def test_search_highlights_and_centres_the_person(browser, tmp_path):
    """Typing a name and pressing Enter rings that person, centres the map on them, shows their card."""
    result = explore_map()
    open_page(browser, tmp_path, result)
    box = browser.find_element(By.ID, "bv-query")
    box.send_keys("person 7", Keys.ENTER)
    wait_picked(browser, 7)
    x, y = result.coords[7]
    assert browser.execute_script(OVERLAY)["ring"] == [[pytest.approx(x, abs=1e-4)], [pytest.approx(y, abs=1e-4)]]
    assert browser.execute_script(OVERLAY)["labels"] == []
    dx, dy, _, _ = browser.execute_script(PIXEL, x, y)
    assert abs(dx) < 2 and abs(dy) < 2
    card = browser.execute_script(CARD)
    assert not card["hidden"] and card["name"] == "Person 7"
    screenshot(browser, tmp_path, "map-search.png")


def test_personal_view_from_the_fragment(browser, tmp_path):
    """``#me=<id>`` opens the map with that person ringed and lines to their nearest people."""
    result = explore_map()
    open_page(browser, tmp_path, result, "#me=104")
    wait_picked(browser, 4)
    overlay = browser.execute_script(OVERLAY)
    here = result.coords[4].tolist()
    pairs = [[overlay["lines"][0][k], overlay["lines"][1][k]] for k in range(len(overlay["lines"][0]))]
    near = [result.coords[j].tolist() for j in (5, 6, 7)]
    assert pairs[2::3] == [[None, None]] * 3
    assert pairs[0::3] == [pytest.approx(here, abs=1e-4)] * 3
    assert pairs[1::3] == [pytest.approx(q, abs=1e-4) for q in near]
    card = browser.execute_script(CARD)
    assert card["name"] == "Person 4 (you)" and card["near"] == ["Person 5", "Person 6", "Person 7"]
    assert sorted(overlay["labels"]) == ["Person 5", "Person 6", "Person 7", "you"]
    screenshot(browser, tmp_path, "map-personal.png")


def test_clicking_a_person_shows_their_card_with_a_dm_link(browser, tmp_path):
    """A real mouse click on a point shows name, group and keywords, the intro and a Zulip DM link."""
    result = explore_map()
    open_page(browser, tmp_path, result, site=SITE)
    x, y = result.coords[6]
    _, _, ox, oy = browser.execute_script(PIXEL, x, y)
    chart = browser.find_element(By.ID, "batchviz-map")
    ActionChains(browser).move_to_element_with_offset(chart, round(ox), round(oy)).pause(0.3).click().perform()
    wait_picked(browser, 6)
    card = browser.execute_script(CARD)
    assert card["name"] == "Person 6"
    assert card["group"] == "group 2 · coffee, piano" and card["keywords"] == "Keywords: coffee, piano, gardening"
    assert card["intro"] == result.people[6].text and card["dm"] == f"{SITE}/#narrow/dm/106-user"
    screenshot(browser, tmp_path, "map-person.png")


def test_group_list_filters_the_map(browser, tmp_path):
    """The groups beside the map name each group; clicking one draws only its people."""
    result = explore_map()
    open_page(browser, tmp_path, result)
    buttons = browser.find_elements(By.CSS_SELECTOR, "#bv-groups button")
    assert [b.text.split("\n")[0] for b in buttons] == [
        "All groups", "Group 1 · rust, coffee (5 people)", "Group 2 · coffee, piano (4 people)",
        "Group 3 · piano, gardening (3 people)", "Not in a group (2 people)"]
    buttons[2].click()
    WebDriverWait(browser, 20).until(lambda b: b.execute_script(COUNT, ".scatterlayer .point") == 4)
    assert buttons[2].get_attribute("aria-pressed") == "true"
    screenshot(browser, tmp_path, "map-group.png")
    buttons[0].click()
    WebDriverWait(browser, 20).until(lambda b: b.execute_script(COUNT, ".scatterlayer .point") == len(result))


PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
LAYOUT = """
const box = id => document.getElementById(id).getBoundingClientRect();
return {scroll: document.documentElement.scrollWidth, map: box('batchviz-map').width,
        mapBottom: box('batchviz-map').bottom, side: box('bv-side').top,
        widest: Math.max(...Array.from(document.querySelectorAll('body *:not(svg *)')).map(e => e.getBoundingClientRect().right))};
"""


def test_phone_width_layout(browser, tmp_path):
    """At 390 px nothing scrolls sideways, the map fills the width and the groups sit below it."""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        open_page(browser, tmp_path, explore_map(names=[f"Person {i}" for i in range(13)] + ["W" * 120]))
        layout = browser.execute_script(LAYOUT)
        assert layout["scroll"] <= 390 and layout["widest"] <= 390
        assert 330 < layout["map"] <= 390 and layout["side"] >= layout["mapBottom"]
        screenshot(browser, tmp_path, "map-phone.png")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


ACTIVE = "const e = document.activeElement; return [e.id || null, e.getAttribute('data-person'), e.getAttribute('data-group')]"


def tab_until(browser, wanted, limit=200):
    """Press Tab until the focused element's (id, data-person, data-group) is ``wanted``."""
    for _ in range(limit):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        if browser.execute_script(ACTIVE) == wanted:
            return
    raise AssertionError(f"Tab never reached {wanted}")


def test_keyboard_only_search_groups_and_list(browser, tmp_path):
    """Without a mouse: Tab to a group and press Space to filter, Tab to someone in the list and
    press Enter to see their card, which then has the focus."""
    result = explore_map()
    open_page(browser, tmp_path, result)
    tab_until(browser, [None, None, "3"])
    ActionChains(browser).send_keys(Keys.SPACE).perform()
    WebDriverWait(browser, 20).until(lambda b: b.execute_script(COUNT, ".scatterlayer .point") == 3)
    tab_until(browser, [None, "6", None])
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    wait_picked(browser, 6)
    assert browser.execute_script(ACTIVE)[0] == "bv-person-name"
    assert browser.execute_script(CARD)["name"] == "Person 6"
    assert browser.execute_script(COUNT, ".scatterlayer .point") == len(result) + 1  # all, and the ring
    screenshot(browser, tmp_path, "map-keyboard.png")


def test_list_view_and_card_keep_hostile_text_inert(browser, tmp_path):
    """Hostile names in the list, the search box and the card stay characters; nothing runs."""
    names = HOSTILE_NAMES + [f"P{i}" for i in range(7)]
    result = explore_map(names=names)
    open_page(browser, tmp_path, result, site=SITE)
    listed = [b.text for b in browser.find_elements(By.CSS_SELECTOR, "#bv-list [data-person]")]
    assert sorted(listed) == sorted(" ".join(n.split()) for n in names)
    browser.get(browser.current_url + "#me=" + result.people[13].person_id)  # near: 0, 1, 2
    wait_picked(browser, 13)
    assert sorted(browser.execute_script(OVERLAY)["labels"]) == sorted(["you", *(" ".join(n.split()) for n in names[:3])])
    browser.find_element(By.ID, "bv-query").send_keys(HOSTILE_NAMES[0], Keys.ENTER)
    wait_picked(browser, 0)
    assert browser.execute_script(CARD)["name"] == HOSTILE_NAMES[0]
    suggested = browser.execute_script("return Array.from(document.querySelectorAll('#bv-names option'), o => o.value)")
    assert sorted(suggested) == sorted(listed)  # the search box offers every name, as characters
    state = browser.execute_script(INJECTED)
    assert state["pwned"] == "undefined" and state["imgs"] == state["handlers"] == 0
    assert state["links"] == 1  # the card's own DM link


GL_STATE = """
const gd = document.getElementById('batchviz-map');
return gd._fullData.map(t => [t.type, t.visible]);
"""


def test_big_maps_draw_with_webgl_and_stay_explorable(browser, tmp_path, monkeypatch):
    """From GL_FROM people on, points are scattergl; search, a click and the group filter still work."""
    monkeypatch.setattr(render, "GL_FROM", 10)
    result = explore_map()
    open_page(browser, tmp_path, result)
    assert [t[0] for t in browser.execute_script(GL_STATE)].count("scattergl") == 4  # one per group
    assert browser.execute_script(COUNT, "#batchviz-map canvas") >= 1
    browser.find_element(By.ID, "bv-query").send_keys("Person 7", Keys.ENTER)
    wait_picked(browser, 7)
    _, _, ox, oy = browser.execute_script(PIXEL, *result.coords[8])
    chart = browser.find_element(By.ID, "batchviz-map")
    ActionChains(browser).move_to_element_with_offset(chart, round(ox), round(oy)).pause(0.3).click().perform()
    wait_picked(browser, 8)
    browser.find_element(By.CSS_SELECTOR, '#bv-groups [data-group="3"]').click()
    WebDriverWait(browser, 20).until(
        lambda b: [v for kind, v in b.execute_script(GL_STATE) if kind == "scattergl"] == [False, False, True, False])
