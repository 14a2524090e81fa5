"""Answers as conversations on a real Store holding a real map (HashingEmbedder)."""

from __future__ import annotations

import re
import threading
import tracemalloc

import numpy as np
import pytest

from bot.answers import Answerer, Asker, human_size, md
from bot.commands import COMMANDS, parse
from bot.service import import_documents, rebuild
from pipeline.documents import Document
from pipeline.embed import HashingEmbedder
from pipeline.neighbours import term_weights
from pipeline.params import PipelineParams
from storage import Store

LINK = "https://maps.example/abc"
WHERE = "#**welcome>introductions**"


@pytest.fixture
def answerer(demo_store):
    return Answerer(demo_store, "demo", links=lambda: LINK, join_where=WHERE,
                    refresh=lambda asker: f"rebuilt for {asker.name}", status_extra=lambda: "Next post: Monday.")


@pytest.fixture
def result(demo_store):
    return demo_store.latest_snapshot("demo")


def asker_for(result, index: int) -> Asker:
    person = result.people[index]
    return Asker(person.person_id, person.name)


def say(answerer: Answerer, asker: Asker, text: str) -> str:
    return answerer.answer(parse(text), asker)


def listed_names(reply: str) -> list[str]:
    return re.findall(r"^\d+\. \*\*(.+?)\*\*", reply, flags=re.MULTILINE)


def test_every_command_has_an_answer():
    """Dispatch is by name: each command of the table has an answer_<name> method."""
    for command in COMMANDS:
        assert callable(getattr(Answerer, f"answer_{command.name}"))


def test_near_me_lists_the_stored_neighbours(answerer, result):
    """`near me` names the k nearest people, best first, with similarity and shared words."""
    reply = say(answerer, asker_for(result, 0), "who's near me?")
    expected = [result.people[n.index].name for n in result.neighbours[0]]
    assert listed_names(reply) == [md(name) for name in expected]
    assert re.search(r"— (very close|close|some overlap)", reply) and result.people[0].name not in listed_names(reply)


def test_near_me_with_more_than_stored(answerer, result):
    """Asking for more neighbours than the snapshot keeps computes them, most similar first."""
    reply = say(answerer, asker_for(result, 0), "near me 9")
    words = re.findall(r"— (very close|close|some overlap)", reply)
    order = ["very close", "close", "some overlap"]
    assert len(listed_names(reply)) == 9 and words == sorted(words, key=order.index)


def test_near_someone_by_mention_case_and_prefix(answerer, result):
    """A person is found by exact name, any case, or a unique prefix; all give the same reply."""
    name = result.people[5].name
    prefix = next(name[:n] for n in range(1, len(name) + 1)
                  if sum(p.name.startswith(name[:n]) for p in result.people) == 1)
    me = asker_for(result, 0)
    replies = {say(answerer, me, text) for text in (f"near @**{name}**", f"near {name.upper()}", f"near {prefix}")}
    assert len(replies) == 1
    assert listed_names(replies.pop()) == [md(result.people[n.index].name) for n in result.neighbours[5]]


def test_ambiguous_and_unknown_names(answerer, result):
    """An ambiguous prefix lists the candidates; an unknown name says so."""
    first_letters = [p.name[0] for p in result.people]
    letter = max(set(first_letters), key=first_letters.count)
    reply = say(answerer, asker_for(result, 0), f"near {letter}")
    assert "could be several people" in reply
    assert reply.count("**") >= 6  # the name asked for and at least two candidates
    assert "couldn't find anyone called **Nobody Atall**" in say(answerer, asker_for(result, 0), "near Nobody Atall")


@pytest.mark.parametrize("text, number", [("cluster -1", "-1"), ("cluster 0", "0"),
                                          (f"show cluster {10**20}", str(10**20))])
def test_missing_cluster_numbers(answerer, result, text, number):
    """Numbers that are no group get the range of the real ones."""
    last = max(result.clusters)
    assert say(answerer, asker_for(result, 0), text) == f"There is no group {number}; there are groups 1–{last}."


def test_cluster_number_that_is_not_a_number(answerer, result):
    """`cluster 3abc` explains the expected form instead of guessing."""
    assert "not a group number" in say(answerer, asker_for(result, 0), "cluster 3abc")


def test_show_cluster(answerer, result):
    """A cluster's reply has its keywords, every member and the map link."""
    cluster = result.clusters[1]
    reply = say(answerer, asker_for(result, 0), "show cluster #1")
    assert ", ".join(md(w) for w in cluster.keywords) in reply and LINK in reply
    for index in cluster.members:
        assert f"**{md(result.people[index].name)}**" in reply


def test_clusters_one_line_each(answerer, result):
    """`clusters` has a line per group with its number and size, and who is in none."""
    reply = say(answerer, asker_for(result, 0), "clusters")
    assert reply == say(answerer, asker_for(result, 0), "groups")
    for number, cluster in result.clusters.items():
        assert f"* **Group {number}** ({len(cluster.members)} people):" in reply
    assert reply.startswith(f"{len(result.clusters)} groups ({result.noise_count} people not in a group):")


def test_map_status_refresh(answerer, result):
    """`map` gives the link and counts; `status` the model and the runner's extra; `refresh` delegates."""
    me = asker_for(result, 0)
    assert LINK in say(answerer, me, "map") and f"{len(result)} people" in say(answerer, me, "map")
    status = say(answerer, me, "status")
    assert result.model in status and "Next post: Monday." in status
    assert say(answerer, me, "refresh") == f"rebuilt for {me.name}"


def test_opt_out_then_never_named(answerer, result, demo_store):
    """After `opt out` the person's messages are gone and no reply names them."""
    leaver_index = result.neighbours[0][0].index
    leaver = asker_for(result, leaver_index)
    before = demo_store.message_count("demo")
    reply = say(answerer, leaver, "forget me")
    assert "deleted the 1 message" in reply and "next map won't include you" in reply
    assert demo_store.message_count("demo") == before - 1
    assert leaver.user_id not in {d.person_id for d in demo_store.documents("demo")}
    assert "couldn't find anyone" in say(answerer, asker_for(result, 0), f"near {leaver.name}")
    others = [say(answerer, asker_for(result, 0), "near me 20")]
    others += [say(answerer, asker_for(result, 0), f"show cluster {n}") for n in result.clusters]
    assert not any(md(leaver.name) in text for text in others)
    assert "opted out" in say(answerer, leaver, "near me")
    assert "Welcome back" in say(answerer, leaver, "opt in") and not demo_store.opted_out(leaver.user_id)


def test_someone_not_on_the_map_learns_how_to_join(answerer):
    """A stranger is told where to post an introduction."""
    reply = say(answerer, Asker("999999", "New Person"), "near me")
    assert "not on the map" in reply and WHERE in reply


def test_no_map_yet(tmp_path):
    """Before the first build, map questions get a clear reply."""
    with Store(tmp_path / "db.sqlite3") as store:
        answerer = Answerer(store, "main", join_where=WHERE)
        for text in ("near me", "clusters", "map", "show cluster 1", "near Ada"):
            assert "There is no map yet" in say(answerer, Asker("1", "Ada"), text)


def test_unknown_text_gets_short_help(answerer, result):
    """Unrecognised text gets a short help, never silence."""
    assert "`help`" in say(answerer, asker_for(result, 0), "tell me a joke")


def test_storage_errors_become_one_friendly_line(tmp_path):
    """A failing store gives one friendly line, not a trace."""
    store = Store(tmp_path / "db.sqlite3")
    store.close()
    reply = Answerer(store, "main").answer(parse("near me"), Asker("1", "Ada"))
    assert reply.startswith("Sorry") and "\n" not in reply and "Traceback" not in reply


def test_hostile_names_cannot_inject_markdown(tmp_path):
    """Names with mentions, links and emphasis are escaped in replies."""
    evil = "@**all** [click](https://evil.example) _x_"
    docs = [Document(str(i), name, f"I like rust and climbing and {word}")
            for i, (name, word) in enumerate([("Ada", "tea"), (evil, "tea"), ("Bob", "chess"), ("Cy", "go")])]
    with Store(tmp_path / "db.sqlite3") as store:
        import_documents(store, "t", docs)
        rebuild(store, "t", PipelineParams(), HashingEmbedder())
        reply = say(Answerer(store, "t"), Asker("0", "Ada"), "near me 3")
    assert "@**all**" not in reply and "](https" not in reply and " _x_" not in reply
    assert md(evil) in reply


def test_a_map_is_read_once_per_snapshot_and_a_new_one_is_seen(answerer, demo_store):
    """Commands reuse the map already read; a newly saved snapshot replaces it."""
    first = answerer.latest_map()
    assert answerer.latest_map() is first
    rebuild(demo_store, "demo", PipelineParams(), HashingEmbedder())
    newer = answerer.latest_map()
    assert newer is not first and len(newer) == len(first)


class HeldReads:
    """A store whose snapshot reads wait, once ``hold`` is called, until ``release``."""

    def __init__(self, store):
        self.store, self.reading, self.go = store, threading.Event(), threading.Event()
        self.go.set()

    def __getattr__(self, name):
        return getattr(self.store, name)

    def hold(self):
        self.go.clear()

    def release(self):
        self.go.set()

    def load_snapshot(self, snapshot_id):
        self.reading.set()
        self.go.wait(30)
        return self.store.load_snapshot(snapshot_id)


def test_commands_are_answered_from_the_map_in_hand_while_a_new_one_is_read(demo_store):
    """While ``warm`` reads a new map in (seconds at 5,000 people), a command is answered
    from the map in hand at once, not after reading the new one itself; then from the new."""
    held = HeldReads(demo_store)
    answerer = Answerer(held, "demo")
    first = answerer.latest_map()
    rebuild(demo_store, "demo", PipelineParams(), HashingEmbedder())
    held.hold()
    warming = threading.Thread(target=answerer.warm, daemon=True)
    warming.start()
    assert held.reading.wait(10)
    answered = []
    command = threading.Thread(target=lambda: answered.append(say(answerer, asker_for(first, 0), "near me")), daemon=True)
    command.start()
    command.join(10)
    try:
        assert answered and listed_names(answered[0]) == [md(first.people[n.index].name) for n in first.neighbours[0]]
    finally:
        held.release()
        warming.join(30)
    newer = answerer.latest_map()
    assert newer is not first and len(newer) == len(first)


def test_warm_reads_a_new_map_and_its_word_weights_before_any_command(answerer, result):
    """After a build the bot warms the answerer: the first `near me 20` (more than the
    stored neighbours, so computed) fits no word weights of its own."""
    term_weights.cache_clear()
    answerer.warm()
    fitted = term_weights.cache_info().misses
    assert fitted == 1
    reply = say(answerer, asker_for(result, 0), "near me 20")
    assert len(listed_names(reply)) == 20
    assert term_weights.cache_info().misses == fitted


def test_near_me_beyond_the_stored_neighbours_scores_only_the_askers_row(tmp_path):
    """`near me 6` with fewer stored neighbours scores the asker against everyone once
    (O(n·d)), never everyone against everyone: at 600 people × 384 dimensions the old
    way held a 600 × 599 × 384 array (550 MB). The six are the most similar by cosine,
    and people who opted out are skipped (issue 9.10)."""
    from tests.storage.conftest import build_result

    result = build_result(n=600, dim=384)  # one stored neighbour each
    with Store(tmp_path / "db.sqlite3") as store:
        store.save_snapshot("big", result)
        unit = result.embeddings / np.linalg.norm(result.embeddings, axis=1, keepdims=True)
        by_cosine = [int(j) for j in np.argsort(-(unit @ unit[0]), kind="stable") if j != 0]
        store.set_consent(result.people[by_cosine[0]].person_id, True)
        answerer = Answerer(store, "big")
        answerer.latest_map()  # read the snapshot before measuring the command
        tracemalloc.start()
        try:
            reply = say(answerer, asker_for(result, 0), "near me 6")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert listed_names(reply) == [md(result.people[j].name) for j in by_cosine[1:7]]
    assert peak < 40 * result.embeddings.nbytes  # everyone × everyone would be 600 × that


# ---- Zulip-native wording: silent mentions, calibrated closeness, times, personal link ----

ZULIP_NAMES = ["Ada Lovelace", "Bo *Bold*", "Cy Young", "Di Ng", "Ed Ma", "Flo Ray"]


@pytest.fixture
def zulip_store(tmp_path):
    """A source of Zulip users (numeric ids), one of them with a name no mention can hold."""
    topics = ["rust compilers", "rust compilers", "rust kernels", "piano jazz", "piano choir", "jazz choir"]
    docs = [Document(str(10 + i), name, f"I am {name} and I like {topic} and tea")
            for i, (name, topic) in enumerate(zip(ZULIP_NAMES, topics))]
    with Store(tmp_path / "db.sqlite3") as store:
        import_documents(store, "z", docs)
        rebuild(store, "z", PipelineParams(), HashingEmbedder())
        yield store


def test_zulip_users_are_named_by_silent_mentions_by_id(zulip_store):
    """In Zulip, people are ``@_**|id**`` (the asker too: a stream reads the reply), so
    Zulip shows their current name; no stored name, hostile or not, is in mention syntax."""
    answerer = Answerer(zulip_store, "z", links=lambda: LINK, mentions=True)
    reply = say(answerer, Asker("10", "Ada Lovelace"), "near me 5")
    assert reply.startswith("Closest to @_**|10**:")
    assert "@_**|12**" in reply and "@_**|11**" in reply and "you" not in reply.split("\n")[0]
    assert not any(name in reply for name in ZULIP_NAMES)
    group = say(answerer, Asker("10", "Ada Lovelace"), "show group 1")
    assert re.search(r"Members: @_\*\*\|\d+\*\*", group)


def test_demo_names_stay_plain_bold(answerer, result):
    """Names from a CSV or the demo are never mentions."""
    reply = say(answerer, asker_for(result, 0), "near me")
    assert "@_**" not in reply and reply.startswith("Closest to you:") and len(listed_names(reply)) == 5


def test_closeness_words_follow_the_batch_percentiles(answerer, result):
    """The words come from the batch's own neighbour similarities: over all of everyone's
    neighbours, about a fifth are "very close" and the last two fifths "some overlap"."""
    words = [line.split("— ")[1].split(" ·")[0]
             for i in range(len(result)) for line in say(answerer, asker_for(result, i), "near me").splitlines()
             if re.match(r"\d+\. ", line)]
    shares = {w: words.count(w) / len(words) for w in ("very close", "close", "some overlap")}
    assert 0.15 <= shares["very close"] <= 0.25 and 0.35 <= shares["some overlap"] <= 0.45


def test_times_are_zulip_local_times(answerer, result):
    """`map` and `status` give the build time as ``<time:ISO>``."""
    stamp = f"<time:{result.built_at.isoformat(timespec='seconds')}>"
    me = asker_for(result, 0)
    assert stamp in say(answerer, me, "map") and stamp in say(answerer, me, "status")


def test_near_me_ends_with_the_personal_map_link(answerer, result):
    """`near me` ends with a link that opens the map on the asker (``#me=<id>``)."""
    me = asker_for(result, 3)
    last = say(answerer, me, "who's near me").splitlines()[-1]
    assert last == f"[See yourself and your closest people on the map]({LINK}#me={me.user_id})"


def test_stored_but_not_mapped_hears_when(zulip_store):
    """Someone whose intro is stored after the map was built hears when they'll be on it."""
    zulip_store.upsert_person("99", "New Person")
    zulip_store.upsert_message("z", 999, "99", "Hi, I love rust", "Hi, I love rust", 999)
    answerer = Answerer(zulip_store, "z", mentions=True, rebuild_minutes=5)
    reply = say(answerer, Asker("99", "New Person"), "near me")
    assert "I have your introduction" in reply and "about 5 minutes after" in reply and "<time:" in reply
    assert "Post an introduction" not in reply
    soon = say(Answerer(zulip_store, "z", rebuild_minutes=0), Asker("99", "New Person"), "near me")
    assert "built within a minute or so" in soon


def test_status_gives_the_size_of_the_data_folder(answerer, result, demo_data_dir):
    """`status` says how much disk the data folder (database and maps) takes, so growth shows."""
    me = asker_for(result, 0)
    database = sum(f.stat().st_size for f in demo_data_dir.iterdir())
    maps = demo_data_dir / "maps" / "demo"
    maps.mkdir(parents=True)
    (maps / "1.html").write_bytes(b"x" * (5_000_000 - database))  # together: 5.0 MB
    assert "Data folder: 5.0 MB." in say(answerer, me, "status")


@pytest.mark.parametrize("size, shown", [(0, "0 bytes"), (999, "999 bytes"), (1000, "1.0 KB"),
                                         (12_345_678, "12.3 MB"), (3 * 10**9, "3.0 GB")])
def test_sizes_read_as_people_write_them(size, shown):
    assert human_size(size) == shown


def test_a_quoted_sentence_is_inert_text(demo_store, answerer):
    """With ``keywords = sentences`` a group's answer quotes a member's sentence: it goes
    through ``md`` like all user text, so a wildcard mention or a link in it stays
    text (issue 28)."""
    hostile = "Ping @**all** and see https://ev.il/login or [this](https://ev.il)"
    result = demo_store.latest_snapshot("demo")
    number = min(result.clusters)
    result.clusters[number].sentences = [hostile]
    demo_store.save_snapshot("demo", result)
    reply = say(answerer, asker_for(result, result.clusters[number].members[0]), f"show group {number}")
    quoted = [line for line in reply.splitlines() if line.startswith("> ")]
    assert quoted == [f"> {md(hostile)}"]
    for live in ("@**all**", "https://ev.il", "](", "[this]"):
        assert live not in quoted[0], live
