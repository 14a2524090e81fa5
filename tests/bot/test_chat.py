"""The local demo chat: it says who you are, answers like Zulip, and `as NAME` switches person."""

import io

from bot.answers import Answerer
from bot.chat import chat, choose_person
from bot.commands import parse


def _chat(demo_store, lines):
    """The first person's chat transcript for piped ``lines``, and the answerer used."""
    answerer = Answerer(demo_store, "demo")
    me = choose_person(answerer.latest_map(), None)
    out = io.StringIO()
    chat(answerer, me, stdin=io.StringIO("\n".join(lines) + "\n"), out=out)
    return out.getvalue(), answerer, me


def test_greeting_names_the_person_and_how_to_switch(demo_store):
    """The chat starts by saying who you are talking as and how to be someone else."""
    out, _, me = _chat(demo_store, [])
    assert out.startswith(f"You are {me.name} ") and "`as NAME`" in out and "`quit`" in out


def test_as_name_switches_who_near_me_is_about(demo_store):
    """After `as NAME`, `near me` answers for that person exactly as Zulip would."""
    people = demo_store.latest_snapshot("demo").people
    other = people[1]
    out, answerer, _ = _chat(demo_store, [f"as {other.name.upper()}", "near me 2"])
    expected = answerer.answer(parse("near me 2"), choose_person(answerer.latest_map(), other.name))
    assert f"You are now {other.name}." in out and expected in out


def test_as_unknown_name_keeps_the_person(demo_store):
    """An unknown name changes nobody and suggests some who are on the map."""
    out, answerer, me = _chat(demo_store, ["as Zzz Nobody", "near me 1"])
    assert f"You are still {me.name}: 'Zzz Nobody' is not on the map" in out
    assert answerer.answer(parse("near me 1"), me) in out


def test_times_are_written_out_in_the_terminal(demo_store):
    """Zulip's ``<time:…>`` would be noise in a terminal: the chat writes it as a UTC time."""
    out, answerer, _ = _chat(demo_store, ["map"])
    built = answerer.latest_map().built_at
    assert "<time:" not in out and f"built {built:%Y-%m-%d %H:%M} UTC" in out
