"""The bundled demo introductions: enough fictional people, in unequal intended groups."""

import re
from collections import Counter

import pytest

from pipeline.demo import DEMO_CSV, NO_GROUP, demo_groups, load_demo, slugify

MENTION = re.compile(r"@\*\*([^*]+)\*\*")


@pytest.fixture(scope="module")
def demo():
    return load_demo()


def test_loads_about_eighty_people(demo):
    """The demo has roughly eighty people, read from the packaged CSV."""
    assert DEMO_CSV.is_file()
    assert 70 <= len(demo) <= 90


def test_names_and_ids_are_unique(demo):
    """No two demo people share a name or a person_id."""
    assert len({d.name for d in demo}) == len(demo)
    assert len({d.person_id for d in demo}) == len(demo)


def test_person_id_is_the_slug_of_the_name(demo):
    """Every person_id is the name's slug: lowercase words joined by hyphens."""
    for doc in demo:
        assert doc.person_id == slugify(doc.name)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", doc.person_id), doc.person_id


def test_slugify_folds_accents_and_punctuation():
    """Slugs fold accents and letters without a decomposition, and drop punctuation."""
    assert slugify("Elif Yıldız") == "elif-yildiz"
    assert slugify("  Henrik  Sørensen! ") == "henrik-sorensen"
    assert slugify("Finn O'Sullivan") == "finn-o-sullivan"


def test_at_least_eight_groups_of_six_or_more(demo):
    """Eight or more intended interest groups have six or more people, of unequal sizes."""
    sizes = Counter(d.extra["group"] for d in demo)
    big = {group: n for group, n in sizes.items() if group != NO_GROUP and n >= 6}
    assert len(big) >= 8
    assert len(set(big.values())) > 1
    assert 4 <= sizes[NO_GROUP] <= 6


def test_demo_groups_matches_documents(demo):
    """demo_groups() gives each document's intended group by person_id."""
    assert demo_groups() == {d.person_id: d.extra["group"] for d in demo}


def test_every_cleaned_text_has_words(demo):
    """After Markdown cleaning every text still has several words of its own."""
    for doc in demo:
        assert len(doc.text.split()) >= 10, doc.name
        assert doc.raw.strip()


def test_cleaning_removed_markdown(demo):
    """Some raw texts use Zulip Markdown, and none of that markup survives cleaning."""
    markup = {
        "bold": re.compile(r"\*\*\w"),
        "link": re.compile(r"\]\(https?://"),
        "emoji": re.compile(r":[a-z_]+:"),
        "code": re.compile(r"`[^`]+`"),
        "list": re.compile(r"^- ", re.M),
        "mention": MENTION,
    }
    for kind, pattern in markup.items():
        assert any(pattern.search(d.raw) for d in demo), f"no {kind} in the demo"
        assert not any(pattern.search(d.text) for d in demo), f"{kind} left after cleaning"


def test_mentions_name_demo_people(demo):
    """Every @-mention in the demo names another demo person."""
    names = {d.name for d in demo}
    for doc in demo:
        for mentioned in MENTION.findall(doc.raw):
            assert mentioned in names and mentioned != doc.name


def test_texts_include_introduction_filler(demo):
    """Many texts carry greetings and filler, so keyword filtering is tested for real."""
    filler = re.compile(r"\b(hi|hello|hey)\b|excited|looking forward", re.I)
    assert sum(bool(filler.search(d.raw)) for d in demo) >= len(demo) // 2
