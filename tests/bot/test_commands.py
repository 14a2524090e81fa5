"""The command table: forgiving parsing, bounded input, help generated from the table."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from bot.commands import COMMANDS, FILLER, MAX_K, ParsedCommand, help_text, normalize, parse
from tests.reliability.conftest import assert_clear_reply

FORGIVING = [
    ("help", "help", {}),
    ("  HELP!! ", "help", {}),
    ("", "help", {}),
    ("who's near me", "near_me", {"k": None}),
    ("Who is near me?", "near_me", {"k": None}),
    ("whos near me", "near_me", {"k": None}),
    ("who\u2019s   NEAR me", "near_me", {"k": None}),
    ("@**batchviz** near me 3", "near_me", {"k": 3}),
    ("near me @**batchviz**", "near_me", {"k": None}),
    ("@_**batchviz|42** near me 0", "near_me", {"k": 1}),
    ("near me 999", "near_me", {"k": MAX_K}),
    ("near @**Ada Lovelace**", "near", {"name": "Ada Lovelace", "user_id": None, "k": None}),
    ("near @**Ada Lovelace|17** 4", "near", {"name": "Ada Lovelace", "user_id": "17", "k": 4}),
    ("who is near Ada Lovelace 2?", "near", {"name": "Ada Lovelace", "user_id": None, "k": 2}),
    ("close to @ada", "near", {"name": "ada", "user_id": None, "k": None}),
    ("show cluster 3", "cluster", {"number": 3}),
    ("cluster #3", "cluster", {"number": 3}),
    ("Show me group 12.", "cluster", {"number": 12}),
    ("cluster -1", "cluster", {"number": -1}),
    ("cluster 0", "cluster", {"number": 0}),
    (f"cluster {10**20}", "cluster", {"number": 10**20}),
    ("clusters", "clusters", {}),
    ("list all the groups", "clusters", {}),
    ("clusters please", "clusters", {}),
    ("hey, could @**batchviz** show the clusters?", "clusters", {}),
    ("list clusters", "clusters", {}),
    ("list groups", "clusters", {}),
    ("groups", "clusters", {}),
    ("what are the groups", "clusters", {}),
    ("show cluster", "clusters", {}),
    ("who else is into the same stuff as me", "near_me", {"k": None}),
    ("who is similar to me", "near_me", {"k": None}),
    ("people like me", "near_me", {"k": None}),
    ("my neighbours 4", "near_me", {"k": 4}),
    ("show me cluster 3", "cluster", {"number": 3}),
    ("what's cluster 3?", "cluster", {"number": 3}),
    ("tell me about group 3", "cluster", {"number": 3}),
    ("clusters 3 please", "cluster", {"number": 3}),
    ("near @**Jane Doe** 3", "near", {"name": "Jane Doe", "user_id": None, "k": 3}),
    ("who's near @**Jane Doe**?", "near", {"name": "Jane Doe", "user_id": None, "k": None}),
    ("near @**Jane Doe** 3 please", "near", {"name": "Jane Doe", "user_id": None, "k": 3}),
    ("who is near Will Hey, please?", "near", {"name": "Will Hey", "user_id": None, "k": None}),
    ("near A", "near", {"name": "A", "user_id": None, "k": None}),
    ("link", "map", {}),
    ("show the map", "map", {}),
    ("where's the map", "map", {}),
    ("rebuild", "refresh", {}),
    ("update", "refresh", {}),
    ("opt-out", "opt_out", {}),
    ("optout", "opt_out", {}),
    ("forget about me", "opt_out", {}),
    ("remove me", "opt_out", {}),
    ("opt back in", "opt_in", {}),
    ("status?", "status", {}),
    ("help me", "help", {}),
    ("?", "help", {}),
    ("commands", "help", {}),
    ("what can you do?", "help", {}),
    ("map", "map", {}),
    ("show me the map", "map", {}),
    ("Refresh!", "refresh", {}),
    ("status", "status", {}),
    ("forget me", "opt_out", {}),
    ("Opt-out", "opt_out", {}),
    ("opt in", "opt_in", {}),
]


@pytest.mark.parametrize("text, name, args", FORGIVING)
def test_forgiving_inputs(text, name, args):
    """Case, punctuation, apostrophes, bot mentions and spacing don't matter."""
    assert parse(text) == ParsedCommand(name, args)


@pytest.mark.parametrize("text, command, fragment", [
    ("cluster 3abc", "cluster", "“3abc” is not a group number"),
    ("show cluster #x", "cluster", "“x” is not a group number"),
    ("near me lots", "near_me", "number of people"),
])
def test_bad_arguments_explain_themselves(text, command, fragment):
    """A known command with unusable arguments carries an explanation, not a guess."""
    parsed = parse(text)
    assert parsed.name == command and fragment in parsed.error


@pytest.mark.parametrize("text", [
    "near me @**x`** @**all**`",
    "show cluster @**`[Re-auth](https://ev.il)**`",
    "near me ~~gone~~ $$x$$ ev.il",
])
def test_echoed_arguments_are_inert_markdown(text):
    """What a person typed comes back escaped, never inside a code span it could close:
    no live mention, link, strikethrough or maths (issue 9, item 9)."""
    error = parse(text).error
    assert error
    assert_clear_reply(error)
    assert "~~" not in error and "$$" not in error and "ev.il" not in error


def test_unknown_text():
    """Anything else is `unknown`, with the (bounded) text kept for the reply."""
    parsed = parse("what's the weather like")
    assert parsed.name == "unknown" and parsed.args["text"] == "what's the weather like"


def test_other_mentions_stay():
    """Only the bot's own mention is removed; the bot's display name can be configured."""
    assert parse("@**Map Bot** near @**Bob**", bot_names=("Map Bot",)).args["name"] == "Bob"
    assert parse("@**Map Bot** clusters", bot_names=("batchviz",)).name == "unknown"


def test_huge_input_is_cut_before_matching():
    """A 10,000-word message is bounded before any regex sees it."""
    text = "near me " + "word " * 10_000
    assert len(normalize(text)) <= 1000
    assert parse(text).name == "near_me"


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=20_000))
def test_parse_never_raises(text):
    """Arbitrary text parses to a known command or `unknown`, never an exception."""
    parsed = parse(text)
    assert parsed.name in {c.name for c in COMMANDS} | {"unknown"}


NAMES = {c.name for c in COMMANDS} | {"unknown"}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(sorted(FILLER) + ["me", "cluster", "groups", "near", "3", "@**Jo**", "#", "?", "-"]),
                max_size=12).map(" ".join))
def test_parse_never_raises_on_command_like_text(text):
    """Mixtures of filler, command words, mentions and numbers parse to a known name, never raise."""
    assert parse(text).name in NAMES


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(COMMANDS), st.lists(st.sampled_from(sorted(FILLER)), max_size=4),
       st.sampled_from(["", "?", " please", "!", " @**batchviz**"]))
def test_filler_around_a_usage_keeps_its_meaning(command, before, after):
    """Polite filler before a command's usage and punctuation after it don't change the command."""
    usage = command.usage.split(" / ")[0].replace(" [k]", "").replace("N", "2")
    assert parse(" ".join(before + [usage]) + after).name == command.name


def test_help_lists_every_command():
    """The help text is generated from the table: every usage and description appears."""
    text = help_text()
    for command in COMMANDS:
        assert f"`{command.usage}`" in text and command.description in text


def test_every_pattern_is_reachable():
    """Each command's usage example parses to that command (the table has no dead rows)."""
    for command in COMMANDS:
        usage = command.usage.split(" / ")[0].replace("[k]", "").replace("N", "2")
        assert parse(usage).name == command.name, usage
