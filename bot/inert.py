"""User text made inert in Zulip Markdown: the one place that decides how.

Anything a person wrote (a name, a shared word, a sentence, a command they typed and we
echo back) goes through ``md`` before it is put in a reply, so it cannot become a
mention, a link, a stream link, an emoji-less formatting span, maths or a code span.
Never put ``md`` output inside backticks: escapes are literal inside a code span.
"""

from __future__ import annotations

import re

# the backslash escapes Zulip's Markdown honours, covering emphasis, code spans, links,
# images, and the asterisks of mentions and stream links
_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]()>#!"})
# strikethrough (~~) and maths ($$) have no escape: a word joiner splits the pair; it
# also keeps a final "@" from starting a mention with the markup after it ("**@**")
_PAIRS = re.compile(r"([~$])(?=[~$])|(@)$")
# a dot inside a token ("ev.il", "x.com/a") would let Zulip turn it into a link
_LINK_DOT = re.compile(r"\.(?=[^\W_])")


def md(text: object) -> str:
    """One line, every Markdown special character escaped, no bare link or domain."""
    flat = " ".join(str(text).split()).translate(_SPECIAL)
    return _PAIRS.sub(lambda m: m.group(0) + "\u2060", _LINK_DOT.sub(r"\\.", flat))
