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

from bot.inert import md, plain
from real_zulip.harness import patient
from render_corpus import PLACEHOLDER, Replies, corpus
from rendering_record import CONTEXTS, record
from storage import Store
from zulip_render import added, batches, joined, live, split, visible

RENDERERS = 4  # people rendering in turn: each may make 200 requests a minute
AGAIN = 600  # replies rendered once more, alone, after coming back wrong in a batch
BARE = CONTEXTS[0]  # md(text) alone, at the start of a line: where blocks start


def render(client, content: str) -> str:
    return patient(client.call_endpoint, url="messages/render", method="POST",
                   request={"content": content})["rendered"]


def render_all(clients, markdowns: list[str]) -> list[str]:
    """Each markdown's rendering, many to a request; a batch whose replies ran into each
    other (a separator swallowed) is rendered one by one. One request at a time: the kit's
    development server renders in threads that share one Markdown engine, and messages
    rendered at the same time mix up each other's stashed HTML (`\\x02wzxhzdk:7\\x03` left
    in the text, or another reference's character); a production Zulip renders one
    request per process. Other tests on the shared server can still collide with a batch,
    so a reply that comes back wrong is rendered once more, alone, before it counts as a
    failure. The people take turns, each within Zulip's 200 requests a minute."""
    rendered = []
    for number, indices in enumerate(batches(markdowns)):
        client = clients[number % len(clients)]
        parts = split(render(client, joined(markdowns, indices)), len(indices))
        rendered += parts if parts is not None else [render(client, markdowns[i]) for i in indices]
    return rendered


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
    started = time.monotonic()
    rendered = render_all(clients, markdowns)
    seconds = time.monotonic() - started
    empty = dict(zip(names, rendered))

    def wrong(t: int, name: str, html: str) -> str | None:
        extra = added(html, live(empty[name]))
        seen, expected = visible(html), shown(empty[name], made[t][name][1])
        if extra or seen != expected:
            return (f"{name} | typed {texts[t]!r} | sent {made[t][name][0]!r}\n  live: {dict(extra)}\n"
                    f"  seen:     {seen!r}\n  expected: {expected!r}")
        return None

    by_text, failures, again = [dict() for _ in texts], [], 0
    for (t, name), html in zip(cases, rendered[len(names):]):
        failure = wrong(t, name, html)
        if failure and again < AGAIN:  # once more alone: see render_all on the server's threads
            again += 1
            html = render(clients[again % len(clients)], made[t][name][0])
            failure = wrong(t, name, html)
        failures += [failure] if failure else []
        by_text[t][name] = html
    print(f"\nrender corpus: {len(texts)} strings, {len(cases)} replies in {len(names)} templates, "
          f"{len(markdowns)} renderings in {len(batches(markdowns))} requests, {seconds:.1f} s; "
          f"{again} rendered again alone")
    assert not failures, f"{len(failures)} of {len(cases)} replies:\n" + "\n".join(failures[:40])
    if os.environ.get("BATCHVIZ_RECORD_RENDERINGS"):
        record(texts, by_text)
