"""clean_markdown: Zulip Markdown in, the person's own words out."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.markdown import clean_markdown

# (markdown, words that must stay, words that must go)
CASES = {
    "code fence": ("I like Rust.\n```python\nsecret_code()\n```\nAnd tea.", ["I like Rust.", "And tea."], ["secret_code"]),
    "tilde fence": ("Before\n~~~\ntilde_code\n~~~\nAfter", ["Before", "After"], ["tilde_code"]),
    "unclosed fence": ("Mine\n```\nno end", ["Mine"], ["no end"]),
    "inline code": ("I use `rm -rf` and `` a`b `` daily", ["I use", "daily"], ["rm -rf", "a`b", "`"]),
    "quote fence": ("```quote\nsomeone else\n```\nmy reply", ["my reply"], ["someone else"]),
    "quote reply header": ("@_**Bob|12** [said](https://x.zulipchat.com/#narrow/near/5):\n```quote\nhis\n```\nmine",
                           ["mine"], ["Bob", "said", "his"]),
    "quote lines": ("> their words\n> more\nlazy tail\n\nmy words", ["my words"], ["their", "more", "lazy"]),
    "spoiler": ("````spoiler The Header\nhidden but mine\n```python\ncode_inside()\n```\n````\nafter",
                ["hidden but mine", "after"], ["The Header", "code_inside"]),
    "quote inside spoiler": ("```spoiler head\nmine\n````quote\nnot mine\n````\n```", ["mine"], ["not mine", "head"]),
    "math block": ("```math\n\\int x dx\n```\ntext", ["text"], ["int"]),
    "inline math": ("Energy $$E = mc^2$$ is neat", ["Energy", "is neat"], ["mc^2", "$"]),
    "mention": ("Hi @**Ada Lovelace** and @**Alan Turing|42**", ["Ada Lovelace", "Alan Turing"], ["@", "*", "42"]),
    "silent mention": ("thanks @_**Grace Hopper|7**", ["Grace Hopper"], ["@", "_", "7"]),
    "group mention": ("ping @*hackers* please", ["hackers"], ["@", "*"]),
    "stream link": ("see #**general>intros** and #**social**", ["general intros", "social"], ["#", "*", ">"]),
    "message link": ("in #**general>intros@123**", ["general intros"], ["123", "@"]),
    "link": ("my [blog about rust](https://blog.example.com/x)", ["blog about rust"], ["https", "example"]),
    "image": ("![a cat](https://x.org/cat.png)", ["a cat"], ["png"]),
    "bare url": ("site https://example.com/a?b=1 and www.example.org here", ["site", "and", "here"], ["example"]),
    "autolink": ("see <https://example.com> now", ["see", "now"], ["example"]),
    "emoji": ("hello :wave: :+1: :smile_cat: world", ["hello world"], [":", "wave", "smile"]),
    "time is not emoji": ("meet at 10:30:45 ok", ["10:30:45"], []),
    "emphasis": ("**bold** *italic* ~~struck~~ __under__", ["bold italic struck under"], ["*", "~", "__"]),
    "snake_case kept": ("my snake_case var", ["snake_case"], []),
    "header": ("# About me\n## Interests", ["About me", "Interests"], ["#"]),
    "bullets": ("- one\n* two\n+ three\n1. four\n2) five", ["one", "two", "three", "four", "five"], ["-", "*", "1."]),
    "rules and tables": ("a\n\n---\n\n| x | y |\n|---|:-:|\n| p | q |", ["a", "x y", "p q"], ["|", "---"]),
    "html": ("<b>bold</b> <script>x</script> <time:2024-01-01T00:00:00Z>", ["bold"], ["<", ">", "time:"]),
    "unicode": ("Привет, я Анна 🎨 — 日本語 café", ["Привет, я Анна 🎨 — 日本語 café"], []),
}


@pytest.mark.parametrize("name", list(CASES))
def test_construct(name):
    """Each Markdown construct keeps the person's words and drops the rest."""
    raw, kept, dropped = CASES[name]
    text = clean_markdown(raw)
    for part in kept:
        assert part in text, (name, text)
    for part in dropped:
        assert part not in text, (name, text)


def test_whitespace_is_collapsed():
    """Runs of spaces, tabs and blank lines collapse; lines are trimmed."""
    assert clean_markdown("  a \t  b  \n\n\n\n  c  \r\n\r\n d\x00e ") == "a b\nc\nd e"


@pytest.mark.parametrize("raw", [None, "", "   \n\n\t", "```", "> only a quote", ":wave:"])
def test_nothing_said_is_empty(raw):
    """Empty input, or input that is all markup, gives an empty string."""
    assert clean_markdown(raw) == ""


PAIRING_PIECES = ["``", "`", "$$"]  # consecutive ones pair up and enclose code or math
HOSTILE_PIECES = ["@_*", "@**", "#**a>", "[x](", "<a", ":x", "**", "~~", "_", "|", "> "]


@pytest.mark.parametrize("piece", HOSTILE_PIECES + PAIRING_PIECES)
def test_ten_thousand_words_of_unclosed_markup(piece):
    """A 10,000-word message full of one construct is cleaned (in linear time) and keeps the words outside it."""
    raw = " ".join(f"word{i} {piece}" for i in range(5_000))
    text = clean_markdown(raw)
    assert text.startswith("word0")
    assert ("word4999" in text) == (piece not in PAIRING_PIECES)


def test_ten_thousand_lines_of_fences_and_quotes():
    """Thousands of alternating fences, quotes and bullets are handled line by line."""
    raw = "\n".join(["```", "> quoted", "~~~~", "- mine"] * 2_500)
    assert "quoted" not in clean_markdown(raw)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("`~*_>#@|$[]()<>:!-\n \t aZé😀0")), max_size=300))
def test_never_raises_on_markup_soup(raw):
    """Any mix of Markdown punctuation gives a string without blank lines or padded lines."""
    text = clean_markdown(raw)
    assert isinstance(text, str)
    assert all(line and line == line.strip() for line in text.split("\n")) or text == ""


def test_thousands_of_nested_fences():
    """Thousands of nested spoilers keep their text; nested quotes hide theirs."""
    spoilers = "\n".join(["````spoiler header"] * 5_000 + ["mine"] * 5_000)
    quotes = "\n".join(["````quote"] * 5_000 + ["theirs"] * 5_000)
    assert clean_markdown(spoilers) == "\n".join(["mine"] * 5_000)
    assert clean_markdown(quotes) == ""
