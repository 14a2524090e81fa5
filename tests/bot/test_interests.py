"""`who's into <topic>`: ranking by meaning (the real model) and words, the answer, its rules."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bot.answers import Answerer, Asker
from bot.builder import EmbedderSpec
from bot.commands import help_text, parse
from bot.interests import TopicIndex
from bot.queries import InProcessQueries, QueryProcess
from pipeline.csv_import import read_csv
from pipeline.embed import HashingEmbedder
from pipeline.neighbours import normalised

SPRING = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "spring.csv"
LINK = "https://maps.example/map/demo/1?exp=1&sig=x"


@pytest.fixture(scope="module")
def spring(real_embedder):
    """The spring batch embedded with the bundled model: (people, topic index)."""
    docs = read_csv(SPRING)
    texts = tuple(d.text for d in docs)
    return docs, TopicIndex(normalised(real_embedder.encode(list(texts))), texts)


def ranked(spring, real_embedder, topic: str, mode: str = "blend", k: int = 3) -> list:
    docs, index = spring
    found = index.rank(topic, real_embedder.encode([topic])[0], k, lambda i: True, mode)
    return [docs[m.index] for m in found]


@pytest.mark.parametrize("text, topic", [
    ("who's into Rust?", "Rust"), ("anyone into type theory?", "type theory"),
    ("is anyone here into Zig", "Zig"), ("find climbing", "climbing"),
    ("who knows proof assistants please", "proof assistants"), ("@**batchviz** who is interested in LLVM", "LLVM"),
])
def test_the_ways_of_asking(text, topic):
    """Every way of asking parses to `into` with the topic; help lists the command."""
    assert parse(text).name == "into" and parse(text).args == {"topic": topic, "everywhere": False}
    assert "who's into <topic>" in help_text()


def test_meaning_finds_a_group_in_other_words(spring, real_embedder):
    """"Machine-checked mathematics" (words no member wrote) finds the proof-assistant people."""
    groups = [doc.extra["group"] for doc in ranked(spring, real_embedder, "machine-checked mathematics")]
    assert groups[0] == "proofs" and groups.count("proofs") >= 2


def test_a_rare_word_is_found_by_its_words(spring, real_embedder):
    """Only Ines wrote "Lisp": the model alone puts other compiler people first; the blend, her."""
    assert [doc.name for doc in ranked(spring, real_embedder, "Lisp", "meaning")][:1] != ["Ines Carvalho"]
    assert [doc.name for doc in ranked(spring, real_embedder, "Lisp")][:1] == ["Ines Carvalho"]


def test_a_topic_nobody_is_into_lists_nobody(spring, real_embedder):
    """Nobody in the batch wrote about horses: no weak matches are listed."""
    assert ranked(spring, real_embedder, "horse riding") == []


@pytest.fixture
def answerer(demo_store):
    return Answerer(demo_store, "demo", links=lambda: LINK, encode=InProcessQueries(HashingEmbedder()))


def ask(answerer: Answerer, text: str) -> str:
    return answerer.answer(parse(text), Asker("0", "Someone"))


def test_the_answer_quotes_each_person_and_links_the_map_search(answerer, demo_store):
    """Each listed person wrote the topic; their matching part is quoted; the link finds them."""
    result = demo_store.latest_snapshot("demo")
    reply = ask(answerer, "who's into rust?")
    names = re.findall(r"^\d+\. \*\*(.+?)\*\* — “(.+)”$", reply, flags=re.MULTILINE)
    assert names, reply
    for name, quoted in names:
        doc = next(d for d in result.people if d.name == name)
        assert "rust" in doc.text.lower() and "rust" in quoted.lower()
    link = reply.splitlines()[-1]
    assert link.startswith("[See them on the map](https://maps.example/map/demo/1?exp=1&sig=x#find=rust&ids=")
    ids = link.split("&ids=")[1].rstrip(")").split(",")
    assert len(ids) == len(names)


def test_opted_out_people_are_never_found(answerer, demo_store):
    """Whoever opts out disappears from the answer at once, before any rebuild."""
    result = demo_store.latest_snapshot("demo")
    first = re.search(r"^1\. \*\*(.+?)\*\*", ask(answerer, "who's into rust"), re.MULTILINE).group(1)
    demo_store.set_consent(next(d.person_id for d in result.people if d.name == first), True)
    assert f"**{first}**" not in ask(answerer, "who's into rust")


@pytest.fixture(scope="module")
def spring_answerer(real_embedder, tmp_path_factory):
    """An answerer on the spring batch mapped with the bundled model."""
    from bot.service import import_documents, rebuild
    from pipeline.params import PipelineParams
    from storage import Store

    with Store(tmp_path_factory.mktemp("spring") / "batchviz.sqlite") as store:
        import_documents(store, "spring", read_csv(SPRING))
        rebuild(store, "spring", PipelineParams(), real_embedder)
        yield Answerer(store, "spring", links=lambda: LINK, encode=InProcessQueries(real_embedder))


def test_nobody_is_said_plainly(spring_answerer):
    """A topic nobody wrote about gets a plain "nobody", not the least bad matches."""
    assert ask(spring_answerer, "anyone into horse riding?").startswith("Nobody on this map wrote about “horse riding”")


def test_a_meaning_match_quotes_the_part_about_the_topic(spring_answerer):
    """Asked in other words, the answer lists the proof people and quotes their proof sentences."""
    reply = ask(spring_answerer, "who's into machine-checked mathematics")
    first = reply.splitlines()[1]
    assert first.startswith("1. **") and re.search(r"proof|lean|coq|formal", first, re.IGNORECASE), reply


def test_user_text_is_quoted_inert(demo_store):
    """An intro with Markdown, a mention and a link is quoted without any of them live."""
    from bot.service import import_documents, rebuild
    from pipeline.documents import Document
    from pipeline.params import PipelineParams

    hostile = "I write Zig daily. **Zig** [click](https://evil.example) @**all** `code` $$x$$"
    docs = [Document("h1", "Hostile Person", hostile)] + [
        Document(f"p{i}", f"Person {i}", f"I like gardening and plant number {i}.") for i in range(6)]
    import_documents(demo_store, "hostile", docs)
    rebuild(demo_store, "hostile", PipelineParams(), HashingEmbedder())
    answerer = Answerer(demo_store, "hostile", encode=InProcessQueries(HashingEmbedder()))
    reply = ask(answerer, "who's into zig")
    assert "Hostile Person" in reply and "Zig" in reply
    for live in ("**Zig**", "[click](", "@**all**", "`code`", "$$x$$", "https://evil.example"):
        assert live not in reply


def test_a_map_of_another_model_is_searched_by_words_only(demo_store):
    """A topic embedded by another model than the map's is not compared with it."""
    def other_model(text):
        return "some-other-model", np.ones(256, dtype=np.float32) / 16

    reply = Answerer(demo_store, "demo", encode=other_model).answer(parse("who's into rust"), Asker("0", "x"))
    assert "(by the words people wrote)" in reply


def test_the_query_process_encodes_like_the_model_in_process():
    """The query process's vector and model id are the embedder's own."""
    queries = QueryProcess(EmbedderSpec("hashing"))
    try:
        model, vector = queries("compilers and type theory")
    finally:
        queries.close()
    expected = HashingEmbedder()
    assert model == expected.model_id
    np.testing.assert_allclose(vector, expected.encode(["compilers and type theory"])[0], rtol=1e-6)
