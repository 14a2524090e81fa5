"""The render corpus (tests/render_corpus.py) through every reply template that carries
user text, rendered by the real server's `POST /messages/render`: nothing a user typed
comes back live, and a reader sees exactly what was typed.

    BATCHVIZ_RECORD_RENDERINGS=1 .venv/bin/python -m pytest -m real_zulip \
        tests/real_zulip/test_real_render.py -k corpus -p no:cacheprovider

also records the renderings for the fast suite (tests/bot/test_inert.py).
"""

from __future__ import annotations

import os
import time

import pytest

from bot.inert import md, plain
from real_zulip.harness import patient
from render_corpus import PLACEHOLDER, Replies, corpus
from rendering_record import CONTEXTS, record
from storage import Store
from zulip_render import added, batches, joined, live, split, visible

RENDERERS = 4  # people rendering in turn: each may make 200 requests a minute
TRIES = 4  # renderings of a batch with a wrong reply (Zulip renders deterministically)
AGAIN = 150  # extra requests at most, so a broken md() fails in minutes
BARE = CONTEXTS[0]  # md(text) alone, at the start of a line: where blocks start


def render(client, content: str) -> str:
    return patient(client.call_endpoint, url="messages/render", method="POST",
                   request={"content": content})["rendered"]


def render_batch(client, markdowns: list[str], indices: list[int]) -> list[str]:
    """The renderings of several replies from one request; one by one if they ran into each
    other (a separator swallowed)."""
    parts = split(render(client, joined(markdowns, indices)), len(indices)) if len(indices) > 1 else None
    return parts if parts is not None else [render(client, markdowns[i]) for i in indices]


def render_checked(clients, markdowns: list[str], wrong) -> tuple[list[str], int, float]:
    """Each markdown's rendering, many to a request; how many requests were made again; the
    seconds spent waiting for the server.

    One request at a time: the kit's development server renders in threads that share one
    Markdown engine, and messages rendered at the same time mix up each other's stashed
    HTML (`\\x02wzxhzdk:7\\x03` left in the text, or another reference's character); a
    production Zulip renders one request per process. Other tests on the shared server
    still collide with a batch now and then, so the replies of a batch that `wrong(index,
    html)` finds wrong are rendered again, up to TRIES times in all: a reply wrong every
    time is wrong. The people take turns, each within Zulip's 200 requests a minute."""
    rendered, again, waited = [""] * len(markdowns), 0, 0.0
    for number, indices in enumerate(batches(markdowns)):
        for attempt in range(TRIES):
            client = clients[(number + attempt) % len(clients)]
            started = time.monotonic()
            htmls = render_batch(client, markdowns, indices)
            waited += time.monotonic() - started
            for index, html in zip(indices, htmls):
                rendered[index] = html
            indices = [i for i in indices if wrong(i, rendered[i])]
            if not indices or again >= AGAIN:
                break
            again += 1
    return rendered, again, waited


def templates_rendered(clients, markdowns: list[str], names: list[str]) -> dict[str, str]:
    """The templates' own renderings, the reference for every reply: rendered until two
    renderings in a row agree (see render_checked on the server's threads)."""
    indices = list(range(len(markdowns)))
    last = render_batch(clients[0], markdowns, indices)
    for attempt in range(1, TRIES + 1):
        now = render_batch(clients[attempt % len(clients)], markdowns, indices)
        if now == last:
            return dict(zip(names, now))
        last = now
    pytest.fail(f"the templates rendered differently {TRIES + 1} times in a row: is the server overloaded?")


def shown(template_html: str, typed: str) -> str:
    """What a reader should see: the template's text with the typed text in its slot."""
    return " ".join(visible(template_html).replace(PLACEHOLDER, plain(typed)).split())


def test_the_render_corpus_is_inert_and_reads_as_typed(world, tmp_path):
    """≥ 2,000 hostile strings × every reply template: no live element that the template
    itself does not have, and the visible text is the template's with the typed text."""
    texts = corpus()
    assert len(texts) >= 2000
    with Store(tmp_path / "corpus.sqlite3") as store:
        replies = Replies(store)
        templates = replies.of(PLACEHOLDER) | {BARE: (PLACEHOLDER, PLACEHOLDER)}
        made = [replies.of(text) | {BARE: (md(text), text)} for text in texts]
    names = sorted(templates)
    cases = [(t, name) for t, reply in enumerate(made) for name in reply]
    markdowns = [templates[name][0] for name in names] + [made[t][name][0] for t, name in cases]
    clients = [world.person(f"Render{n}").client for n in range(RENDERERS)]
    empty = templates_rendered(clients, markdowns[:len(names)], names)

    def wrong(index: int, html: str) -> str | None:
        t, name = cases[index - len(names)]
        extra = added(html, live(empty[name]))
        seen, expected = visible(html), shown(empty[name], made[t][name][1])
        if extra or seen != expected:
            return (f"{name} | typed {texts[t]!r} | sent {made[t][name][0]!r}\n  live: {dict(extra)}\n"
                    f"  seen:     {seen!r}\n  expected: {expected!r}")
        return None

    started = time.monotonic()
    rendered, again, waited = render_checked(clients, markdowns, lambda i, html: i >= len(names) and wrong(i, html))
    seconds = time.monotonic() - started
    failures = list(filter(None, (wrong(i, rendered[i]) for i in range(len(names), len(markdowns)))))
    by_text = [dict() for _ in texts]
    for (t, name), html in zip(cases, rendered[len(names):]):
        by_text[t][name] = html
    print(f"\nrender corpus: {len(texts)} strings, {len(cases)} replies in {len(names)} templates, "
          f"{len(markdowns)} renderings in {len(batches(markdowns))} requests and {again} again: "
          f"{waited:.1f} s waiting for the server, {seconds:.1f} s with the checks")
    assert not failures, f"{len(failures)} of {len(cases)} replies:\n" + "\n".join(failures[:40])
    if os.environ.get("BATCHVIZ_RECORD_RENDERINGS"):
        record(texts, by_text)
