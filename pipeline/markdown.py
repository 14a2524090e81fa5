"""Zulip Markdown → the plain text of what the person said, for embedding.

Kept: the person's own words, mention and stream-link names, link texts, spoiler
contents. Dropped: quotes (someone else's words), code, math, URLs, emoji codes and
markup. Non-empty lines are kept one per line with their spaces collapsed.

Every pattern here is free of nested quantifiers and code spans are matched by a
scanner, so the time is linear in the length of the message whatever it contains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# ---- blocks: fences and quotes, one line at a time --------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}(?!.*`)|~{3,})[ \t]*(\S*)")  # a backtick fence's info has no `
_QUOTE_LINE = re.compile(r"^ {0,3}>")
_QUOTE_REPLY_HEADER = re.compile(r"^\s*@_?\*\*[^*\n]+\*\*\s+\[said\]\([^)\n]*\):?\s*$")
_KEEP_FENCES = {"spoiler"}  # the content is the person's own (the header is dropped)
_PARSED_FENCES = {"quote", "spoiler"}  # Zulip parses Markdown inside these; others are opaque


@dataclass
class _Fence:
    marker: str  # the opening run of backticks or tildes
    kind: str  # the info word, lowercased: "quote", "spoiler", "python", ""

    def closed_by(self, line: str) -> bool:
        bare = line.strip()
        return bare[:1] == self.marker[0] and len(bare) >= len(self.marker) and bare == bare[0] * len(bare)

    @property
    def keep(self) -> bool:
        return self.kind in _KEEP_FENCES

    @property
    def opaque(self) -> bool:
        return self.kind not in _PARSED_FENCES


def _own_lines(lines: list[str]) -> list[str]:
    """The lines outside quotes, code and math blocks (spoiler contents kept)."""
    kept: list[str] = []
    stack: list[_Fence] = []
    hidden = 0  # fences on the stack whose content is not the person's
    in_quote = False  # inside a "> " block quote, which ends at a blank line
    for line in lines:
        if stack and (stack[-1].opaque or stack[-1].closed_by(line)):
            if stack[-1].closed_by(line):
                hidden -= not stack.pop().keep
            continue
        opening = _FENCE.match(line)
        if opening:
            stack.append(_Fence(opening.group(1), opening.group(2).lower()))
            hidden += not stack[-1].keep
            in_quote = False
        elif _QUOTE_LINE.match(line) or (in_quote and line.strip()):
            in_quote = True
        else:
            in_quote = False
            if not hidden and not _QUOTE_REPLY_HEADER.match(line):
                kept.append(line)
    return kept


# ---- inline: line prefixes, code spans, then one list of substitutions -------------

_LINE_PREFIX = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+|(?:[-*+]|\d{1,9}[.)])[ \t]+)+")
_BACKTICKS = re.compile(r"`+")

_INLINE: list[tuple[re.Pattern, str]] = [
    (re.compile(r"\$\$.*?\$\$"), " "),  # inline LaTeX
    (re.compile(r"@_?\*\*([^*|\n]+)(?:\|\d+)?\*\*"), r"\1"),  # @**Name**, @_**Name|12**
    (re.compile(r"@_?\*([^*\n]+)\*"), r"\1"),  # @*group*
    (re.compile(r"#\*\*([^*>\n]+)>([^*\n]+?)(?:@\d+)?\*\*"), r"\1 \2"),  # #**stream>topic**
    (re.compile(r"#\*\*([^*\n]+)\*\*"), r"\1"),  # #**stream**
    (re.compile(r"!?\[([^\]\n]*)\]\([^)\s]*\)"), r"\1"),  # [text](url), ![alt](url)
    (re.compile(r"<(?:https?|ftp|mailto):[^<>\s]*>"), " "),  # <autolink>
    (re.compile(r"</?[A-Za-z][^<>]*>"), " "),  # HTML tags (their text stays)
    (re.compile(r"(?:\b(?:https?|ftp)://|\bwww\.)\S+", re.IGNORECASE), " "),  # bare URLs
    (re.compile(r"(?<![\w:]):[a-z0-9_+-]+:(?![\w:])"), " "),  # :emoji_code:
    (re.compile(r"\*+|~~|__|`+|(?<!\w)_|_(?!\w)"), ""),  # bold, italic, strike, stray `
    (re.compile(r"\|"), " "),  # table cells
    (re.compile(r"[\x00-\x08\x0b-\x1f\x7f\s]+"), " "),  # controls and runs of spaces
]


def _is_rule(line: str) -> bool:
    """A thematic break (---, ***, ___) or a table's |---|:--:| row."""
    bare = "".join(line.split())
    chars = set(bare)
    return len(bare) >= 3 and (len(chars) == 1 and bare[0] in "-*_" or ("-" in chars and chars <= set("|:-")))


def _drop_code_spans(paragraph: str) -> str:
    """Remove `code` spans: a run of n backticks up to the next run of exactly n."""
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(paragraph)]
    closing: list[int | None] = [None] * len(runs)
    last_of_length: dict[int, int] = {}
    for i in range(len(runs) - 1, -1, -1):
        length = runs[i][1] - runs[i][0]
        closing[i] = last_of_length.get(length)
        last_of_length[length] = i
    pieces, pos, i = [], 0, 0
    while i < len(runs):
        end = closing[i]
        if end is None:  # a lone backtick run is literal text
            i += 1
            continue
        pieces.append(paragraph[pos : runs[i][0]] + " ")
        pos, i = runs[end][1], end + 1
    pieces.append(paragraph[pos:])
    return "".join(pieces)


def _clean_inline(line: str) -> str:
    line = _LINE_PREFIX.sub("", line)
    for pattern, replacement in _INLINE:
        line = pattern.sub(replacement, line)
    return line.strip()


def _paragraphs(lines: list[str]) -> list[list[str]]:
    groups: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            groups[-1].append(line)
        elif groups[-1]:
            groups.append([])
    return [g for g in groups if g]


def clean_markdown(raw: str) -> str:
    """The plain text of a Zulip message written in Markdown; "" for nothing said."""
    if not isinstance(raw, str):
        raw = "" if raw is None else str(raw)
    lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    for paragraph in _paragraphs(_own_lines(lines)):
        text = [ln for ln in paragraph if not _is_rule(ln)]
        for line in _drop_code_spans("\n".join(text)).split("\n"):
            cleaned = _clean_inline(line)
            if cleaned:
                out.append(cleaned)
    return "\n".join(out)
