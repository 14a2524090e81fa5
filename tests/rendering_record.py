"""The real server's renderings of the render corpus, kept for the fast suite.

Recorded by the real tier (see tests/real_zulip/test_real_render.py for the command); read
by tests/bot/test_inert.py. For each corpus string it keeps a digest of what ``md`` wrote
and what Zulip rendered of it in two contexts (alone at the start of a line, and bold in
a reply), and, over the whole corpus, which characters ``md`` left as typed and which
numeric character references it wrote, all of which Zulip rendered as plain text.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

from bot.inert import md
from render_corpus import digest

FIXTURE = Path(__file__).parent / "bot" / "fixtures" / "zulip_renderings.json.gz"
REFRESH = ("make zulip-renderings (BATCHVIZ_RECORD_RENDERINGS=1 .venv/bin/python -m pytest -m real_zulip "
           "tests/real_zulip/test_real_render.py -k corpus -p no:cacheprovider)")
CONTEXTS = ("bare, at the start of a line", "near @X, not found")
REFERENCE = re.compile(r"&#(\d+);")


def md_digest(text: str) -> str:
    return hashlib.sha256(md(text).encode()).hexdigest()[:16]


def tokens(markdown: str) -> tuple[set[str], set[int]]:
    """The characters left as typed, and the code points written as references."""
    return set(REFERENCE.sub("", markdown)), {int(n) for n in REFERENCE.findall(markdown)}


def record(texts: list[str], by_text: list[dict[str, str]]) -> None:
    kept, referenced = set(), set()
    for text in texts:
        as_typed, references = tokens(md(text))
        kept |= as_typed
        referenced |= references
    data = {"corpus": digest(texts), "kept": "".join(sorted(kept)), "references": sorted(referenced),
            "contexts": list(CONTEXTS),
            "renderings": [[md_digest(text), *(html[c] for c in CONTEXTS)] for text, html in zip(texts, by_text)]}
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    with open(FIXTURE, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as handle:
        handle.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())


def load() -> dict:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as handle:
        return json.load(handle)
