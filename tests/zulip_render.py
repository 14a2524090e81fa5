"""What a reader sees of Zulip's rendered HTML: its visible text and its live elements.

Used by the real tier (rendering through `POST /messages/render`) and by the fast suite
(judging a recording of those renderings, tests/bot/fixtures/zulip_renderings.json.gz).
"""

from __future__ import annotations

from collections import Counter

from bs4 import BeautifulSoup

SEPARATOR = "ZqzSep{}"  # a paragraph between the replies of one batch
MAX_MESSAGE = 9800  # characters per render request (Zulip allows 10,000)


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def visible(html: str) -> str:
    """The text a reader sees, whitespace collapsed."""
    return " ".join(soup(html).get_text(" ").split())


def elements(html: str) -> Counter:
    """Every element, as (tag, classes): a reply's markup, live or not."""
    return Counter((tag.name, " ".join(sorted(tag.get("class", [])))) for tag in soup(html).find_all(True))


LIVE = {"a", "time", "code", "pre", "img", "blockquote", "strong", "em", "del", "ul", "ol", "li", "h1", "h2",
        "h3", "h4", "h5", "h6", "hr", "table", "iframe", "script", "video", "audio"}
LIVE_CLASSES = {"user-mention", "user-group-mention", "stream", "stream-topic", "message-link", "timestamp-error",
                "katex", "katex-display", "tex-error", "emoji", "spoiler-block", "codehilite", "topic-mention"}


def live(html: str) -> Counter:
    """The elements that do something or draw something: links, mentions, stream links,
    times, maths, code, images, emoji, quotes, lists, formatting."""
    return Counter({(tag, classes): n for (tag, classes), n in elements(html).items()
                    if tag in LIVE or LIVE_CLASSES & set(classes.split())})


def added(html: str, expected: Counter) -> Counter:
    """The live elements in ``html`` beyond those of the template itself."""
    return live(html) - expected


def batches(markdowns: list[str]) -> list[list[int]]:
    """Indices of `markdowns` grouped into messages of at most MAX_MESSAGE characters."""
    groups, size = [[]], 0
    for index, text in enumerate(markdowns):
        cost = len(text) + 20
        if groups[-1] and size + cost > MAX_MESSAGE:
            groups.append([])
            size = 0
        groups[-1].append(index)
        size += cost
    return groups


def joined(markdowns: list[str], indices: list[int]) -> str:
    """One message: each reply, then a separator paragraph."""
    return "".join(f"{markdowns[i]}\n\n{SEPARATOR.format(n)}\n\n" for n, i in enumerate(indices))


def split(html: str, count: int) -> list[str] | None:
    """The rendered replies of a joined message, or None when a reply swallowed a separator."""
    parts, rest = [], html
    for n in range(count):
        marker = f"<p>{SEPARATOR.format(n)}</p>"
        if rest.count(marker) != 1:
            return None
        head, rest = rest.split(marker)
        parts.append(head)
    return parts


def reader_text(html: str) -> str:
    """The rendered message as a reader sees it, in plain text: one line per paragraph,
    list items as "- " or "N. ", quotes as "> ", links as "text <url>"."""
    page = soup(html)
    for image in page.find_all("img"):
        image.replace_with("[image]")
    for link in page.find_all("a"):
        link.append(f" <{link.get('href', '')}>")
    for br in page.find_all("br"):
        br.replace_with("\n")
    for listing in page.find_all(["ol", "ul"]):
        for number, item in enumerate(listing.find_all("li", recursive=False), int(listing.get("start", 1))):
            item.insert(0, f"{number}. " if listing.name == "ol" else "- ")
    for block in page.find_all(["p", "li", "div", "h1", "h2", "h3", "h4", "h5", "h6", "pre"]):
        block.append("\n")
    for quote in page.find_all("blockquote"):
        quote.replace_with("".join(f"> {line}\n" for line in quote.get_text().strip().splitlines()))
    lines = [" ".join(line.split()) for line in page.get_text().splitlines()]
    return "\n".join(line for line in lines if line)
