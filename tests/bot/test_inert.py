"""User text made inert (bot/inert.py), judged by what the real Zulip server rendered.

The test server does not render Markdown, so the truth comes from a recording of the real
server's renderings of the render corpus (tests/rendering_record.py, refreshed by the real
tier); these tests judge today's ``md`` against it without a server.
"""

from __future__ import annotations

import functools

import pytest

from bot.inert import bold, md, mention, plain
from render_corpus import corpus, digest
from rendering_record import CONTEXTS, REFRESH, load, md_digest, tokens
from zulip_render import live, visible


@functools.cache
def recording() -> dict:
    """The recording, failing with the command that refreshes it when it is of another corpus."""
    found = load()
    if found["corpus"] != digest(texts()):
        pytest.fail(f"the recording is stale (the corpus changed); refresh it: {REFRESH}")
    return found


@functools.cache
def texts() -> list[str]:
    return corpus()


def test_the_recording_is_of_this_corpus():
    """A changed corpus needs a new recording from the real server."""
    assert recording()["corpus"] == digest(texts())


def test_md_writes_only_what_zulip_rendered_as_plain_text():
    """Every character ``md`` leaves as typed, and every reference it writes, is one the
    real server was seen to render as plain text; the references decode to the text typed."""
    kept, references = set(recording()["kept"]), set(recording()["references"])
    for text in texts():
        written = md(text)
        as_typed, referenced = tokens(written)
        assert as_typed <= kept, (f"md({text!r}) = {written!r} leaves {sorted(as_typed - kept)!r} as typed: "
                                  "Zulip was never seen rendering them as plain text")
        assert referenced <= references, f"md({text!r}) = {written!r}: references never rendered by Zulip"
        decoded = "".join(chr(int(n)) if n else c for c, n in _pieces(written))
        assert decoded == plain(text), f"md({text!r}) = {written!r} reads {decoded!r} in Zulip"


def _pieces(written: str):
    """(character, "") for each character left as typed, ("", N) for each reference."""
    import re

    for found in re.finditer(r"&#(\d+);|(.)", written, re.DOTALL):
        yield (found.group(2) or "", found.group(1) or "")


def test_zulip_rendered_md_of_every_corpus_string_as_typed():
    """What the real server made of ``md(text)``, alone at the start of a line and in a
    bold reply: no live element, and it reads exactly as typed."""
    renderings = recording()["renderings"]
    changed = [text for text, (digest_, *_) in zip(texts(), renderings) if md_digest(text) != digest_]
    for text, (_, bare, in_bold) in zip(texts(), renderings):
        assert not live(bare), f"{text!r} rendered live: {bare}"
        assert live(in_bold) == live("<p>I couldn't find anyone called <strong>x</strong> on the map.</p>")
        assert visible(bare) == " ".join(plain(text).split()), bare
    assert not changed, (f"md() writes something else for {len(changed)} strings than the real server rendered "
                         f"(first: {changed[0]!r}); refresh the recording: {REFRESH}")


@pytest.mark.parametrize(("typed", "written"), [
    ("**not bold**", "&#42;&#42;not bold&#42;&#42;"),
    ("evil.com", "evil&#46;com"),
    ("<time:abc>", "&#60;time&#58;abc&#62;"),
    ("- a list?", "&#45; a list?"),
    ("Jean-Luc O'Neil, hi", "Jean-Luc O'Neil, hi"),
    ("🎉 ok ↔", "&#127881; ok ↔"),
    ("a\u202e\u200bb\n\n c", "ab c"),
])
def test_md_writes_references_for_markup_and_drops_controls(typed, written):
    """Markup characters become numeric references; words, hyphens inside a word,
    apostrophes stay; bidi and zero-width controls go; it is one line."""
    assert md(typed) == written


def test_people_are_mentioned_by_id_only():
    """``@_**|id**``: Zulip fills in the current name; a name never enters mention syntax."""
    assert mention(42) == mention("42") == "@_**|42**"
    assert bold("\u200b") == "**(blank)**" and bold("a*b") == "**a&#42;b**"
    assert CONTEXTS[0].startswith("bare")
