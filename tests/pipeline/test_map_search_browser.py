"""The map page's search of what people wrote, in headless Chromium: by a word of an intro,
by the `#find=` link the bot's `who's into` answer ends with, and never by a hidden real name."""

from __future__ import annotations

import dataclasses

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from fake_maps import HOSTILE_NAMES, WORDS
from tests.pipeline.test_render_browser import INJECTED, OVERLAY, explore_map, open_page

pytestmark = pytest.mark.browser

FOUND = "return document.getElementById('batchviz-map').getAttribute('data-found')"
LISTED = "return Array.from(document.querySelectorAll('#bv-found [data-person]'), b => b.textContent)"


def wait_found(browser) -> list[int]:
    WebDriverWait(browser, 20).until(lambda b: b.execute_script(FOUND) is not None)
    found = browser.execute_script(FOUND)
    return [int(i) for i in found.split(",")] if found else []


def wrote(result, word: str) -> list[int]:
    return [i for i, doc in enumerate(result.people) if word in doc.text]


def test_a_word_from_intros_finds_rings_and_lists_everyone_who_wrote_it(browser, tmp_path):
    """Typing "climbing" finds the people whose intro says it: ringed on the map, listed beside."""
    result = explore_map()
    open_page(browser, tmp_path, result)
    browser.find_element(By.ID, "bv-query").send_keys("Climbing", Keys.ENTER)
    expected = wrote(result, "climbing")
    assert len(expected) > 1 and wait_found(browser) == expected
    ring = browser.execute_script(OVERLAY)["ring"]
    assert ring == [pytest.approx([result.coords[i][d] for i in expected], abs=1e-4) for d in (0, 1)]
    assert browser.execute_script(LISTED) == [result.people[i].name for i in expected]
    assert "2 people match Climbing" in browser.find_element(By.ID, "bv-status").text


def test_the_find_link_opens_with_the_search_done_and_the_named_people_found(browser, tmp_path):
    """``#find=<words>&ids=<keys>``: the query is in the box; who wrote it and who is named are found."""
    result = explore_map()
    named = next(i for i in range(len(result)) if "running" not in result.people[i].text)
    open_page(browser, tmp_path, result, f"#find=running&ids={result.people[named].person_id},nobody")
    assert wait_found(browser) == wrote(result, "running") + [named]
    assert browser.find_element(By.ID, "bv-query").get_attribute("value") == "running"


def test_a_word_nobody_wrote_finds_nobody(browser, tmp_path):
    result = explore_map()
    open_page(browser, tmp_path, result, "#find=knitting")
    assert wait_found(browser) == []
    assert "No one on this map matches knitting" in browser.find_element(By.ID, "bv-status").text


def test_a_pseudonymised_map_searches_no_real_names(browser, tmp_path):
    """Under pseudonyms, neither a real name nor the link's ids find anyone; the pseudonym does."""
    result = explore_map()
    result.people = [dataclasses.replace(d, name=f"Real Name{i}") for i, d in enumerate(result.people)]
    names = {d.person_id: f"Alias {WORDS[i % len(WORDS)].title()}{i}" for i, d in enumerate(result.people)}
    open_page(browser, tmp_path, result, f"#find=Name3&ids={result.people[3].person_id}", names=names)
    assert wait_found(browser) == []
    box = browser.find_element(By.ID, "bv-query")
    box.clear()
    box.send_keys("Alias", Keys.ENTER)
    WebDriverWait(browser, 20).until(lambda b: len(b.execute_script(FOUND).split(",")) == len(result))


def test_hostile_text_searched_and_listed_stays_inert(browser, tmp_path):
    """A search matching hostile names lists them as characters; nothing runs."""
    result = explore_map(names=HOSTILE_NAMES + [f"P{i}" for i in range(7)])
    open_page(browser, tmp_path, result, "#find=" + "onerror")
    assert 0 in wait_found(browser)
    assert HOSTILE_NAMES[0] in browser.execute_script(LISTED)
    state = browser.execute_script(INJECTED)
    assert state["pwned"] == "undefined" and state["imgs"] == state["handlers"] == 0
