"""How soon a map page shows its map, in a fresh headless Chromium (selenium + Debian's
chromium and chromedriver, as the browser tests use).

For each page: the first contentful paint (the heading) and the moment the map is drawn
(the page's script sets ``data-ready`` once ``Plotly.newPlot`` is done), in ms from the
start of navigation, plus the trace types drawn (``scattergl`` from ``render.GL_FROM``
people on). A new browser each time, so nothing is cached.

    python -m benchmarks.first_paint RUNS PAGE.html [PAGE.html ...]

prints one line per run and page, the pages taken in turn so that a machine whose speed
drifts affects each alike. Compare with a page of a handful of people: most of its time
is parsing plotly.js, which every page pays.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--window-size=1280,900")

# runs before the page's own scripts (DevTools adds it; the page's CSP does not apply)
RECORD_READY = """
new MutationObserver(function (changes, observer) {
  var gd = document.getElementById('batchviz-map');
  if (gd && gd.getAttribute('data-ready') === 'true') { window.__ready = performance.now(); observer.disconnect(); }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-ready']});
"""
REPORT = """
var paint = performance.getEntriesByType('paint').filter(e => e.name === 'first-contentful-paint')[0];
var gd = document.getElementById('batchviz-map');
return {first_paint_ms: paint ? Math.round(paint.startTime) : null, map_ms: Math.round(window.__ready),
        types: Array.from(new Set(gd._fullData.map(t => t.type))).sort()};
"""


def measure(page: Path, timeout: float = 120) -> dict:
    """{first_paint_ms, map_ms, types} of one page in a new headless Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    with tempfile.TemporaryDirectory(prefix="batchviz-paint-") as profile:
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        try:
            driver.set_page_load_timeout(timeout)
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_READY})
            driver.get(page.resolve().as_uri())
            WebDriverWait(driver, timeout, poll_frequency=0.05).until(
                lambda d: d.execute_script("return window.__ready || null"))
            return driver.execute_script(REPORT)
        finally:
            driver.quit()


def main(argv: list[str]) -> None:
    runs, pages = int(argv[0]), [Path(p) for p in argv[1:]]
    for _ in range(runs):
        for page in pages:
            print(page.name, json.dumps(measure(page)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
