"""Property-based tests of the command parser and the answers: hostile and odd input never
crashes, never leaks a stack trace, and always gets a clear, inert reply."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.answers import Answerer, Asker
from bot.commands import BY_NAME, MAX_INPUT, parse
from tests.reliability.conftest import FRAGMENTS, HUGE, assert_clear_reply

# Deterministic in CI: the same examples every run (derandomize), no per-example deadline.
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FUZZ_SLOW = settings(FUZZ, max_examples=120)  # each case loads a stored snapshot

# Markdown that could come back live: mentions with backticks, asterisks or brackets
# inside, code spans, bold, links, after a command that echoes its argument
MARKDOWN_BITS = ["`", "``", "**", "*", "_", "[", "]", "(", ")", "](", "~~", "$$", "@", "|", "x", " "]
mentions = st.builds(lambda pre, name: f"{pre}**{name}**", st.sampled_from(["@", "@_"]),
                     st.lists(st.sampled_from(MARKDOWN_BITS + ["all", "everyone"]), min_size=1, max_size=5).map("".join))
markdown_arguments = st.lists(st.one_of(mentions, st.sampled_from(
    ["@**all**", "`", "**bold**", "[Re-auth](https://ev.il)", "https://ev.il", "~~x~~", "$$x$$"])),
    min_size=1, max_size=4).map(" ".join)
echoing_commands = st.builds(lambda command, rest: f"{command} {rest}",
                             st.sampled_from(["near me", "near me 3", "show cluster", "cluster #", "near", "near @**"]),
                             markdown_arguments)
hostile_text = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=12).map(" ".join),
    echoing_commands,
)


def count_case(figures) -> None:
    figures["cases_fuzzed"] += 1


# ---- the parser -----------------------------------------------------------------------


@FUZZ
@given(text=hostile_text)
def test_parse_never_raises_and_names_a_known_command(text, figures):
    """Any text parses to a command of the table or `unknown`, and any error is a clear reply."""
    count_case(figures)
    parsed = parse(text)
    assert parsed.name in BY_NAME or parsed.name == "unknown"
    if parsed.error is not None:
        assert_clear_reply(parsed.error)


@FUZZ
@given(number=st.one_of(st.integers(), st.sampled_from([-1, 0, 10**20, -(10**20)])),
       spelling=st.sampled_from(["show cluster {}", "cluster #{}", "Cluster {}!", "what is group {}?"]))
def test_cluster_numbers_parse_as_the_integer_written(number, spelling, figures):
    """`show cluster N` gives exactly N for any integer, however it is phrased."""
    count_case(figures)
    parsed = parse(spelling.format(number))
    assert parsed.name == "cluster" and parsed.error is None
    assert parsed.args["number"] == number


@pytest.mark.parametrize("argument", ["3abc", "three", "1e3", "3.5", "٣x", "#x"])
def test_cluster_argument_that_is_not_a_number_gets_a_reply(argument, figures):
    """`show cluster 3abc` (and friends) is an explained error, not a guess or a crash."""
    count_case(figures)
    parsed = parse(f"show cluster {argument}")
    assert parsed.name == "cluster" and "number" not in parsed.args
    assert_clear_reply(parsed.error)


def test_ten_thousand_words_parse_without_matching_the_tail(figures):
    """A 10,000-word message is cut to the parser's bound before matching."""
    count_case(figures)
    parsed = parse("show cluster 2 " + "lorem " * 10_000)
    assert parsed.name == "cluster" and parsed.error
    assert len(parsed.error) < MAX_INPUT


# ---- the answers, from a real stored map ---------------------------------------------


@pytest.fixture
def answerer(demo_store):
    """An Answerer on a private copy of the demo map, without links or refresh."""
    return Answerer(demo_store, "demo", links=lambda: "https://maps.example/map/demo/1?exp=1&sig=x")


@pytest.fixture
def demo_asker(demo_store):
    """A person who is on the demo map."""
    person = demo_store.latest_snapshot("demo").people[0]
    return Asker(person.person_id, person.name)


@FUZZ_SLOW
@given(text=hostile_text)
@example(text="show cluster x` @**all** `")
@example(text="near me 5` @**everyone** `")
@example(text="near @**Nobody Here**")
@example(text="show cluster " + HUGE)
@example(text="show cluster -1")
@example(text="show cluster 0")
@example(text="")
@example(text="🎉🎉🎉")
def test_every_message_gets_a_clear_inert_reply(text, answerer, demo_asker, figures):
    """Whatever someone writes, the answer is readable text that cannot ping or inject."""
    count_case(figures)
    if parse(text).name in {"opt_out", "opt_in"}:
        return  # consent changes are tested on their own (test_rel_security)
    assert_clear_reply(answerer.answer(parse(text), demo_asker))


@pytest.mark.parametrize("number", [-1, 0, 10**20])
def test_missing_cluster_numbers_say_which_exist(number, answerer, demo_asker, figures):
    """`show cluster -1 / 0 / 10^20` answers which clusters exist instead of failing."""
    count_case(figures)
    reply = answerer.answer(parse(f"show cluster {number}"), demo_asker)
    assert_clear_reply(reply)
    assert f"no group {number}" in reply and "there are groups" in reply


def test_unknown_person_gets_a_clear_reply(answerer, demo_asker, figures):
    """`near @**Somebody who does not exist**` says so, with the name made inert."""
    count_case(figures)
    reply = answerer.answer(parse("near @**<b>Nobody</b> `x`|12345**"), demo_asker)
    assert_clear_reply(reply)
    assert "couldn't find anyone" in reply and "`" not in reply.replace("\\`", "")
