"""Pseudonyms: stable, unique, never a real name, and the keep-list honoured."""

import re

from pipeline.documents import Document
from pipeline.pseudonym import COMBINATIONS, pseudonymize, pseudonyms_for

NAMES = [f"Person {i}" for i in range(300)]
LOOKS_LIKE = re.compile(r"^[A-Z][a-z]+ [A-Z][a-z]+( \d+)?$")


def test_same_seed_same_pseudonyms_whatever_the_order():
    """The same names and seed give the same pseudonyms, even shuffled."""
    assert pseudonymize(NAMES, seed=3) == pseudonymize(list(reversed(NAMES)), seed=3)


def test_another_seed_gives_other_pseudonyms():
    """Changing the seed changes most pseudonyms."""
    first, second = pseudonymize(NAMES, seed=1), pseudonymize(NAMES, seed=2)
    assert sum(first[n] != second[n] for n in NAMES) > len(NAMES) * 0.9


def test_a_name_keeps_its_pseudonym_when_others_join():
    """Adding people leaves most existing pseudonyms unchanged."""
    before = pseudonymize(NAMES[:100])
    after = pseudonymize(NAMES)
    assert sum(before[n] == after[n] for n in NAMES[:100]) >= 90


def test_pseudonyms_are_unique_and_look_like_adjective_animal():
    """Every name gets its own "Adjective Animal" pseudonym."""
    mapping = pseudonymize(NAMES)
    assert len(set(mapping.values())) == len(NAMES)
    assert all(LOOKS_LIKE.match(p) for p in mapping.values())


def test_more_names_than_combinations_stay_unique():
    """Past every adjective-animal pair, pseudonyms get a number and stay unique."""
    names = [f"n{i}" for i in range(COMBINATIONS + 20)]
    mapping = pseudonymize(names)
    assert len(set(mapping.values())) == len(names)
    assert sum(bool(re.search(r" \d+$", p)) for p in mapping.values()) == 20


def test_keep_list_is_case_insensitive():
    """Names in the keep-list, in any case, are shown as they are; the others are hidden."""
    names = ["Ada Lovelace", "Alan Turing", "grace hopper"]
    mapping = pseudonymize(names, keep=["ada lovelace", "GRACE HOPPER"])
    assert mapping["Ada Lovelace"] == "Ada Lovelace" and mapping["grace hopper"] == "grace hopper"
    assert mapping["Alan Turing"] != "Alan Turing"


def test_no_pseudonym_is_someone_elses_real_name():
    """Real names that look like pseudonyms are never handed out as pseudonyms."""
    real = list(pseudonymize(NAMES).values())[:50]
    mapping = pseudonymize(NAMES + real)
    handed_out = {pseudonym.casefold() for pseudonym in mapping.values()}
    assert not handed_out & {name.casefold() for name in real}


def test_pseudonyms_for_people_are_per_person():
    """Two people with the same name get different pseudonyms; kept names stay."""
    people = [Document("1", "Sam", "a"), Document("2", "Sam", "b"), Document("3", "Lee", "c")]
    mapping = pseudonyms_for(people, keep=["lee"], seed=5)
    assert mapping["1"] != mapping["2"] and mapping["3"] == "Lee"
    assert mapping == pseudonyms_for(list(reversed(people)), keep=["LEE"], seed=5)
