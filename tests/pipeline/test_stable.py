"""Stable cluster numbers: persistent groups keep their number, new groups get fresh ones."""

from datetime import datetime, timezone

import numpy as np

from pipeline.documents import Document
from pipeline.result import NOISE, MapResult
from pipeline.stable import HIGH_WATER_KEY, renumber


def _ids(n):
    return [f"p{i}" for i in range(n)]


def _map(labels, high_water=None):
    """A previous map with these (already numbered) labels over people p0, p1, …"""
    labels = np.asarray(labels)
    people = [Document(pid, pid, "") for pid in _ids(len(labels))]
    params = {} if high_water is None else {HIGH_WATER_KEY: high_water}
    return MapResult(people, np.zeros((len(labels), 2)), np.zeros((len(labels), 2)), labels, {}, [],
                     "test", params, datetime.now(timezone.utc))


def test_first_numbering_starts_at_one_largest_first():
    """Without a previous map, groups are numbered 1, 2, … by size; noise stays -1."""
    labels = renumber([1, 1, 0, 0, 0, NOISE, 2], _ids(7), None)
    assert labels.tolist() == [2, 2, 1, 1, 1, NOISE, 3]


def test_swapped_label_ids_keep_numbers():
    """The same groups under other HDBSCAN label ids keep their previous numbers."""
    previous = _map([1, 1, 1, 2, 2, 2, NOISE])
    assert renumber([1, 1, 1, 0, 0, 0, NOISE], _ids(7), previous).tolist() == [1, 1, 1, 2, 2, 2, NOISE]


def test_a_newcomer_does_not_renumber_groups():
    """One more person joining a group leaves every number as it was."""
    previous = _map([2, 2, 2, 5, 5, 5, 5])
    labels = renumber([0, 0, 0, 1, 1, 1, 1, 0], _ids(8), previous)
    assert labels.tolist() == [2, 2, 2, 5, 5, 5, 5, 2]


def test_a_new_group_gets_a_number_never_used_before():
    """A new group is numbered above the high-water mark, even if higher numbers vanished."""
    previous = _map([1, 1, 1, 2, 2, 2, NOISE, NOISE, NOISE], high_water=7)
    labels = renumber([0, 0, 0, 1, 1, 1, 2, 2, 2], _ids(9), previous)
    assert labels.tolist() == [1, 1, 1, 2, 2, 2, 8, 8, 8]


def test_vanished_numbers_are_not_reused():
    """When group 1 dissolves, the next new group does not take its number."""
    previous = _map([1, 1, 1, 2, 2, 2, NOISE, NOISE, NOISE])
    labels = renumber([NOISE, NOISE, NOISE, 0, 0, 0, 1, 1, 1], _ids(9), previous)
    assert labels.tolist() == [NOISE, NOISE, NOISE, 2, 2, 2, 3, 3, 3]


def test_a_group_sharing_one_member_is_a_new_group():
    """A weak overlap (one person of many) does not inherit the old number."""
    previous = _map([1, 1, 1, 1, 1, NOISE, NOISE, NOISE, NOISE, NOISE])
    labels = renumber([0, NOISE, NOISE, NOISE, NOISE, 0, 0, 0, 0, 0], _ids(10), previous)
    assert set(labels[labels != NOISE]) == {2}


def test_a_split_group_keeps_its_number_for_the_bigger_part():
    """When a group splits, the part sharing most members keeps the number."""
    previous = _map([1] * 9)
    labels = renumber([0] * 6 + [1] * 3, _ids(9), previous)
    assert labels.tolist() == [1] * 6 + [2] * 3
