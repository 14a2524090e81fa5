"""The map page in headless Chromium: it renders offline, hovers right, and stays inert."""

import html
import http.server
import threading

import pytest
from PIL import Image
from selenium.webdriver.support.ui import WebDriverWait

from fake_maps import HOSTILE_NAMES, fake_map
from pipeline.palette import cluster_colours
from pipeline.render import render_html

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
        legend: Array.from(document.querySelectorAll('.legendtext')).map(e => e.textContent),
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
    assert state["legend"][0] == f"1 · {', '.join(HOSTILE_KEYWORDS)}"
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
    assert sum(len(t["text"]) for t in traces) == len(result)
    assert browser.execute_script(COUNT, ".gl-container canvas") >= 1
