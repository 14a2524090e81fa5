"""User text made inert in Zulip Markdown: the one place that decides how.

Anything a person wrote (a name, a shared word, a sentence, a command they typed and we
echo back) goes through ``md`` before it is put in a reply, so it cannot become a
mention, a link, a stream link, emoji, formatting, a time, maths, code or a quote.

Zulip's renderer does not honour Markdown backslash escapes (``\\*`` shows the backslash
and the star still acts), but it passes numeric character references (``&#42;``)
through as the plain character, after every pattern that could start markup has run.
So every ASCII punctuation character that Zulip's syntax is made of, the dots that would
make a domain, and every emoji Zulip would draw as a picture are written as references;
letters, digits and the punctuation no syntax uses stay as typed. Bidi and zero-width
controls are dropped and whitespace is collapsed to one line. Read by a person, the
rendered text is exactly what was typed. Never put ``md`` output inside backticks:
references show literally inside a code span. tests/real_zulip/test_real_render.py
checks this on the real server; tests/bot/test_inert.py checks it against a recording.

People are named with ``mention(user_id)`` (``@_**|id**``): Zulip fills in their current
name, so a rename never breaks it and no stored name is ever inside mention syntax.
"""

from __future__ import annotations

import string
import unicodedata

import regex

# punctuation that no Zulip syntax uses mid-line, kept as typed so replies stay readable
# raw; "-", "+" and "=" start a list or a heading at the start of a line, so a text's
# first character is written as a reference whatever it is
_PLAIN_PUNCTUATION = "'\",?;-+={}^%"
SYNTAX = "".join(c for c in string.punctuation if c not in _PLAIN_PUNCTUATION)
_REFERENCE = str.maketrans({c: f"&#{ord(c)};" for c in SYNTAX})
# bidi embeddings, overrides, isolates and marks; zero-width space, word joiner,
# invisible operators, BOM, Mongolian vowel separator. Joiners (ZWJ, ZWNJ) are kept:
# emoji sequences and Persian and Indic scripts need them.
CONTROLS = frozenset("\u061c\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064"
                     "\u2066\u2067\u2068\u2069\ufeff\u180e")
# what Zulip's renderer draws as an emoji picture (zerver/lib/markdown POSSIBLE_EMOJI_RE),
# or one character of its syntax
_EMOJI_ONE = r"\p{Emoji}(?:\p{Emoji_Modifier}|\uFE0F\u20E3?|[\U000E0020-\U000E007E]+\U000E007F)?"
_SPECIAL = regex.compile(rf"""(?P<emoji>\p{{RI}}\p{{RI}} | {_EMOJI_ONE} (?:\u200D(?:\p{{RI}}\p{{RI}}|{_EMOJI_ONE}))*)
    | [{regex.escape(SYNTAX)}]""", regex.VERBOSE)
_LINE_START = frozenset("-+=")
_TEXT_PRESENTATION = regex.compile(r"\P{Emoji_Presentation}\u20E3?")


def plain(text: object) -> str:
    """What a reader should see of ``text``: one line, controls dropped."""
    kept = "".join(c for c in str(text) if c not in CONTROLS and unicodedata.category(c) != "Cc" or c.isspace())
    return " ".join(kept.split())


def _reference(found: regex.Match) -> str:
    special = found.group(0)
    if found.group("emoji") and _TEXT_PRESENTATION.fullmatch(special):  # a digit, "#", an arrow: text
        return special.translate(_REFERENCE)
    return "".join(f"&#{ord(c)};" for c in special)


def md(text: object) -> str:
    """``text`` as Zulip Markdown that renders as exactly ``plain(text)`` and starts nothing."""
    inert = _SPECIAL.sub(_reference, plain(text))
    return f"&#{ord(inert[0])};{inert[1:]}" if inert[:1] in _LINE_START else inert


def bold(text: object) -> str:
    """``text`` in bold, inert; a text with nothing to show is shown as "(blank)"."""
    return f"**{md(text) or '(blank)'}**"


def mention(user_id: object) -> str:
    """A silent mention by id alone: Zulip shows the person's current name, pings no one."""
    return f"@_**|{int(str(user_id))}**"
