"""The benchmark scripts: their measures on hand-made examples, and a tiny run of each."""

import sys

import numpy as np
import pytest

from benchmarks import bench, configs, evaluate, first_answer, metrics
from benchmarks.common import DATA_PATH, format_table, machine, synthetic_name, verdict
from benchmarks.configs import plain_ctfidf_keywords

needs_data = pytest.mark.skipif(not DATA_PATH.exists(), reason=f"{DATA_PATH} is not there")

# Six people on a line: two tight groups of three, one far from both and labelled "general".
LINE = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0], [30.0]])
LINE_LABELS = np.array(["a", "a", "b", "b", "b", "b", "general"])


def test_precision_at_k_by_hand():
    """P@2 on the line: 0:{1,2}→½, 1:{0,2}→½, 2:{1,0}→0, 3:{4,5}→1, 4:{3,5}→1, 5:{4,3}→1."""
    got = metrics.precision_at_k(LINE, LINE_LABELS, k=2, metric="euclidean", catch_all=("general",))
    assert got == pytest.approx((0.5 + 0.5 + 0 + 1 + 1 + 1) / 6)


def test_precision_at_k_asks_catch_all_people_when_told_nothing():
    """Without a catch-all, the lone "general" person is asked too and scores 0."""
    got = metrics.precision_at_k(LINE, LINE_LABELS, k=2, metric="euclidean")
    assert got == pytest.approx((0.5 + 0.5 + 0 + 1 + 1 + 1 + 0) / 7)


def test_neighbour_precision_of_a_given_ranking_by_hand():
    """Any ranking's precision: row 0 {1,2}→½, row 1 {0,3}→½, row 2 asks nobody ("general"), row 3 {2,0}→0."""
    labels = np.array(["a", "a", "general", "b"])
    nearest = np.array([[1, 2], [0, 3], [0, 1], [2, 0]])
    assert metrics.neighbour_precision(nearest, labels, ("general",)) == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert np.isnan(metrics.neighbour_precision(nearest, ["general"] * 4, ("general",)))


def test_p5_full_uses_the_bots_ranking():
    """P@5 full ranks as "who's near me" does: a hub cosine puts first for everyone doesn't count."""
    from types import SimpleNamespace

    from tests.pipeline.test_neighbours import hub_and_groups

    x = hub_and_groups(groups=3, size=6)  # person 0 the hub, then three groups of six
    labels = np.array(["none"] + [f"g{i // 6}" for i in range(18)])
    run = SimpleNamespace(labels=np.zeros(19, int), coords=None, keywords={})
    got = evaluate.measure(run, evaluate.Sample([], labels, ("none",)), x)["p5_full"]
    assert metrics.precision_at_k(x, labels, 5, "cosine", ("none",)) == pytest.approx(0.8)
    assert got == pytest.approx(1.0)


def test_label_agreement_counts_or_drops_noise():
    """Noise as a group lowers ARI; leaving it out scores only the clustered people."""
    truth = ["a", "a", "b", "b", "c"]
    pred = [0, 0, 1, -1, -1]
    grouped, dropped = metrics.label_agreement(truth, pred, "group"), metrics.label_agreement(truth, pred, "drop")
    assert grouped[0] < 1.0 and grouped[1] < 1.0
    assert dropped == pytest.approx((1.0, 1.0))
    assert np.isnan(metrics.label_agreement(truth, [-1, -1, -1, -1, 0], "drop")[0])


def test_noise_fraction_and_keyword_diversity_by_hand():
    """Half the people are noise; 3 unique keywords among 4; only the first 10 count."""
    assert metrics.noise_fraction([0, -1, -1, 1]) == 0.5
    assert metrics.keyword_diversity({1: ["rust", "Go"], 2: ["go", "gardening"]}) == 0.75
    assert metrics.keyword_diversity({1: [f"w{i}" for i in range(10)] + ["w0", "w1"]}) == 1.0


def test_plain_ctfidf_names_each_cluster_by_its_own_words():
    """The seed script's keywords: each cluster's distinctive word first, noise unnamed."""
    texts = ["rust compilers", "rust borrow checker", "sourdough baking", "baking bread", "hello"]
    keywords = plain_ctfidf_keywords(texts, np.array([0, 0, 1, 1, -1]))
    assert set(keywords) == {0, 1}
    assert keywords[0][0] == "rust" and keywords[1][0] == "baking"


def test_table_and_verdicts():
    """Targets read the right way round, and the table lines up its columns."""
    assert verdict(1.0, 2.0) == "PASS" and verdict(3.0, 2.0) == "MISS"
    assert verdict(3.0, 2.0, at_most=False) == "PASS" and verdict(float("nan"), 2.0) == "n/a"
    assert verdict(1.0, float("nan"), at_most=False) == "n/a"  # nothing to compare with
    lines = format_table(["name", "value"], [["x", 0.12345], ["longer", None]]).splitlines()
    assert lines[0].index("value") == lines[2].index("0.123") == len("longer") + 2
    assert lines[3].endswith("-")


def test_synthetic_names_are_unique():
    """A thousand made-up people have a thousand names."""
    assert len({synthetic_name(i) for i in range(1000)}) == 1000


def test_a_failing_configuration_is_counted_not_raised():
    """A method that fails on a draw shows as "0/1 ok" and in the failure lines."""
    from pipeline.embed import HashingEmbedder, MemoryCache

    docs = load_demo_docs()[:12]
    sample = evaluate.Sample(docs, np.array([d.extra["group"] for d in docs]), ("none",))

    def broken(*_args):
        raise ValueError("k must be at most n")

    configs = {"batchviz": evaluate.CONFIGS["batchviz"], "broken": broken}
    results = evaluate.evaluate_samples([sample], configs, HashingEmbedder(), MemoryCache(), seed=0)
    group = evaluate.Group("demo", "12", [sample], True)
    text = evaluate.report([group], [results])
    assert results["broken"]["failed"] == 1 and results["batchviz"]["failed"] == 0
    assert "demo  12      broken    0/1" in text and "broken failed in 1/1 demo 12 samples: ValueError" in text
    assert len(results["batchviz"]["values"]["ari"]) == 1


def test_missing_bertopic_is_said_and_skipped(monkeypatch):
    """Without bertopic the other configurations still run, and the message says how to get it."""
    monkeypatch.setitem(sys.modules, "bertopic", None)  # import bertopic now raises ImportError
    configs, message = evaluate.available_configs()
    assert set(configs) == {"batchviz", "original"}
    assert "bertopic is not installed" in message and ".[bench]" in message


def test_embedding_times_interleave_and_fill_the_cache():
    """The throughput comparison times both sides and leaves every text cached for the builds."""
    from pipeline.embed import HashingEmbedder, MemoryCache

    docs, embedder, cache = load_demo_docs()[:5], HashingEmbedder(), MemoryCache()
    bare, piped = bench.embedding_times(embedder, docs, cache, chunk=2)
    assert bare > 0 and piped > 0
    assert set(cache.get_embeddings(embedder.model_id, [d.text_hash for d in docs])) == {d.text_hash for d in docs}


def load_demo_docs():
    from pipeline.demo import load_demo

    return load_demo()


def header(output: str, first_column: str) -> list[str]:
    """The column names of the printed table that starts with ``first_column``."""
    line = next(line for line in output.splitlines() if line.startswith(first_column + " "))
    return line.split("  ")


@needs_data
@pytest.mark.slow
def test_evaluate_main_prints_both_tables(tmp_path, capsys):
    """A tiny evaluation (hashing embedder) prints every configuration and the targets."""
    code = evaluate.main(["--draws", "2", "--size", "40", "--large", "0", "--pool", "labelled",
                          "--seeds", "0", "--stability", "0",
                          "--model", "hashing", "--cache", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert [c.strip() for c in header(out, "data") if c.strip()] == evaluate.COLUMNS
    for config in ("batchviz", "bertopic", "original"):
        assert f"pyvideo/labelled  40x2    {config}" in out
        assert f"demo              all     {config}" in out
    assert "keyword diversity" in out and "noise <= 20%" in out
    assert out.count("PASS") + out.count("MISS") >= 10


@needs_data
@pytest.mark.slow
def test_bench_main_runs_the_cli_and_prints_the_tables(tmp_path, capsys):
    """A tiny speed run (30 people, hashing embedder) fills every run and stage column."""
    code = bench.main(["--sizes", "30", "--model", "hashing", "--keep", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0] == machine()  # which machine the figures come from
    assert [c.strip() for c in header(out, "size") if c.strip()] == bench.COLUMNS
    rows = [line.split() for line in out.splitlines() if line.startswith("30 ")]
    assert [r[1] for r in rows[:5]] == ["cold", "rebuild", "warm-1", "warm-2", "one-new"]
    assert all(len(r) == len(bench.COLUMNS) for r in rows[:5])
    assert [r[-1] for r in rows[:5]] == ["fit", "fit", "fit", "fit", "transform"]  # one-new: placed, as the bot does
    assert all(float(value) >= 0 for r in rows[:2] for value in r[2:-1])  # every stage and the peak measured
    assert "embed throughput / bare" in out and "p99 ms (rebuilding)" in out and "growth exponent" in out
    assert (tmp_path / "people-30.html").exists()


@pytest.mark.slow
def test_first_answer_main_times_each_start_to_its_reply(tmp_path, capsys):
    """10 demo people, one bot start per command: each start's row filled from the bot's log
    (connected, registered, resynced, command, reply, in that order), the bot's real reply
    to each command, and the verdict against the target."""
    code = first_answer.main(["--people", "10", "--repeats", "1", "--data", "demo", "--keep", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert [c.strip() for c in header(out, "run") if c.strip()] == first_answer.RUN_COLUMNS
    for number, command in enumerate(first_answer.COMMANDS, 1):
        line = next(line for line in out.splitlines() if line.startswith(f"{number} ") and command in line)
        seconds = [float(value) for value in line.split(command, 1)[1].split()]
        assert len(seconds) == len(first_answer.MARKS) + 1 and seconds == sorted(seconds) and seconds[0] > 0
    assert "reply to 'status': Last map: built" in out and "from 10 people" in out
    assert "reply to 'near me': Closest to" in out
    verdict_line = next(line for line in out.splitlines() if line.startswith("first answer, any command"))
    assert verdict_line.split()[4] == "2" and verdict_line.split()[-1] in ("PASS", "MISS")
    assert (tmp_path / "bot.log").exists()


# ---- the fictional batches, phrases and stability (issue 12) ---------------------------
def test_phrase_score_by_hand():
    """Of four shown keywords: "proof assistant" is good; "proof" is inside it; "assistant"
    and "proof" are fragments of "proof assistant(s)", which two of the three writers wrote;
    "dragons" nobody wrote."""
    texts = ["Lean is my proof assistant.", "Proof assistants and type theory.", "A proof by hand."]
    keywords = {0: ["proof assistant", "proof", "assistant", "dragons"], 1: []}
    assert metrics.phrase_score(keywords, {0: texts}) == pytest.approx(1 / 4)
    assert metrics.fragment_of_written("assistant", texts) and metrics.fragment_of_written("proof", texts)
    assert not metrics.fragment_of_written("type theory", texts) and not metrics.fragment_of_written("proof", texts[1:])
    assert metrics.written("type theory", [r for t in texts for r in metrics.word_runs(t)])
    assert not metrics.written("assistants and", metrics.word_runs("Proof assistants. And more"))
    assert np.isnan(metrics.phrase_score({0: []}, {0: texts}))


def test_changed_groups_by_hand():
    """A person moving between groups changes two groups; the added person (not kept) changes none."""
    before = np.array([0, 0, 0, 1, 1, 1, -1])
    assert metrics.changed_groups(before, np.array([5, 5, 5, 7, 7, 7, -1, 7])) == 0
    assert metrics.changed_groups(before, np.array([5, 5, 5, 7, 7, 9, -1])) == 0  # one left: no group changed by more
    assert metrics.changed_groups(before, np.array([5, 5, 7, 7, 7, 7, -1, 5])) == 0  # one moved: each changed by one
    assert metrics.changed_groups(before, np.array([5, 7, 7, 7, 7, 7, -1])) == 2  # two moved: both changed
    assert metrics.changed_groups(before, np.array([5, 5, 5, 5, 5, 5, -1])) == 2  # merged: one grew by 3, one gone
    assert metrics.changed_groups(before, np.array([-1] * 7)) == 2



# ---- refits and the keyword judge (issue 23) ----------------------------------------------
def test_refit_changes_by_hand():
    """Groups changed apart from the editor's own, matched by Jaccard >= 0.5."""
    a, b, c = {"a1", "a2", "a3"}, {"b1", "b2", "b3"}, {"c1", "c2", "c3", "x"}
    assert metrics.refit_changes([a, b, c], [a, b, c - {"x"}], "x") == 0  # the editor left their group
    assert metrics.refit_changes([a, b, c], [a | {"x"}, b, c - {"x"}], "x") == 0  # ... and joined another
    assert metrics.refit_changes([a, b, c], [a | {"b1"}, b - {"b1"}, c], "x") == 2  # b1 moved: two groups changed
    assert metrics.refit_changes([a, b, c], [a | b, c], "x") == 2  # merged: a and b both lost their match
    assert metrics.refit_changes([a, b, c], [a, b, c, {"d1", "d2"}], "x") == 1  # a new group
    assert metrics.refit_changes([a, b, c], [a, b | c], "x") == 1  # c (the editor's) merged into b: b changed


class _WordEmbedder:
    """Embeds a text as counts of a few words: enough to tell the topic names apart."""

    WORDS = ("game", "music", "compilers", "future")

    def encode(self, texts):
        return np.array([[t.lower().count(w) + 1e-3 for w in self.WORDS] for t in texts], dtype=float)


def test_keyword_judge_by_hand(monkeypatch):
    """A group named like its topic is guessed right; a group named by generic words is not."""
    from benchmarks import judge

    monkeypatch.setattr(judge, "TOPICS", {"games": "game development", "music": "music making",
                                          "compilers": "compilers"})
    labels = np.array([1, 1, 1, 2, 2, 3, 3, -1])
    truth = np.array(["games", "games", "music", "music", "music", "compilers", "compilers", "games"])
    keywords = {1: ["game engine", "game jams"], 2: ["music", "synths"], 3: ["future", "cases"]}
    assert judge.judge_score(keywords, labels, truth, _WordEmbedder()) == pytest.approx(5 / 7)
    assert judge.generic_named(keywords) == 1 and judge.generic_share(keywords) == pytest.approx(2 / 6)


def test_small_plan_holds_the_batches_with_the_held_out_one_apart():
    """--only small: the demo and every fictional batch (seeds times), no pyvideo; heldout_ is apart."""
    args = evaluate.parse_args(["--only", "small", "--seeds", "2"])
    groups = evaluate.plan(args)
    assert groups[0].data == "demo" and not any(g.data.startswith("pyvideo") for g in groups)
    fictional = {g.data: g for g in groups if g.fictional}
    assert {"batch/spring", "batch/summer", "batch/autumn", "batch/winter", "held-out/harbour"} == set(fictional)
    assert fictional["held-out/harbour"].fictional == "held out"
    for group in fictional.values():
        assert len(group.samples) == 2 and 30 <= len(group.samples[0].docs) <= 60
        labels = group.samples[0].labels
        assert all(3 <= np.sum(labels == g) <= 6 for g in set(labels))


@pytest.mark.slow
def test_evaluate_small_run_prints_batches_stability_and_targets(tmp_path, capsys):
    """A tiny --only small run (hashing embedder): batch rows, the stability table, the ARI targets."""
    code = evaluate.main(["--only", "small", "--seeds", "1", "--stability", "2", "--refit", "1",
                          "--model", "hashing", "--cache", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "batch/winter" in out and "held-out/harbour" in out and "batch/spring+1" in out
    assert "ARI >= 0.75 (tuned)" in out and "ARI >= 0.7 (held out)" in out
    assert "keyword phrase score" in out and "one added person: <=1 group changed" in out
    assert "who's into P@3 (blend)" in out and "P@3 meaning" in out
    assert "refit: <=1 other group changed, groups +-1 (old)" in out and "keyword judge >= 0.9" in out


def test_a_model_the_onnx_backend_cannot_run_gets_no_torch_rows(capsys):
    """bench.py with a hub-named model (which the default then runs on torch) leaves out the
    torch rows and says why, instead of failing."""
    assert bench.onnx_ready("someone/not-a-folder") is False and bench.onnx_ready("hashing") is False
    assert "no torch rows" in capsys.readouterr().err


@pytest.mark.model
@pytest.mark.skipif(not configs.bertopic_available(), reason="bertopic is not installed")
def test_bertopic_runs_on_the_bundled_model(real_embedder):
    """The comparison hands BERTopic the SentenceTransformer itself (not batchviz's wrapper,
    which BERTopic refuses), so the BERTopic rows of the evaluation are filled."""
    docs = load_demo_docs()
    embeddings = real_embedder.encode([d.text for d in docs])
    run = configs.run_bertopic(docs, embeddings, real_embedder, None, seed=0)
    assert len(run.labels) == len(docs)  # (81 people are too few for its default clusters: all noise)


def test_a_childs_peak_memory_is_its_own_not_the_benchmarks(tmp_path):
    """A child started from a big benchmark process reports its own peak: Linux would
    otherwise count the benchmark's memory it was forked from (the bug that read every
    run at 1,000 and 5,000 people as the benchmark's 1.4–1.6 GiB)."""
    ballast = b"\x01" * (600 * 2**20)  # 600 MiB written, so resident in this process
    measured = bench.run_process([sys.executable, "-c", "pass"], tmp_path / "child.log")
    assert len(ballast) and 0 < measured["wall"] and 0 < measured["cpu"] and 0 < measured["peak_mib"] < 200
    with pytest.raises(bench.BenchmarkError) as caught:
        bench.run_process([sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "failing.log")
    assert "exited with 3" in str(caught.value)


def test_the_machine_line_names_the_processor_its_vectors_and_cores():
    """Read from /proc/cpuinfo: the model and the widest vector instructions its flags list."""
    epyc = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n"
    older = "processor\t: 0\nmodel name\t: Intel Xeon\nflags\t\t: fpu sse2 avx avx2 fma\n"
    assert machine(epyc).startswith("machine: AMD EPYC, AVX-512, ") and " cores, " in machine(epyc)
    assert machine(older).startswith("machine: Intel Xeon, AVX2, ")
    assert machine("").startswith("machine: processor unknown, vector instructions unknown, ")


# ---- batchviz against the original script (issue 24) ------------------------------------
def test_versus_ratios_are_taken_round_by_round():
    """Each run's "vs original" is the median of the original's wall over its own, round by
    round (so a slow round slows both), and the target reads the default's row."""
    from benchmarks import versus

    original = [{"wall": 20.0, "cpu": 21.0, "peak_mib": 800.0}, {"wall": 40.0, "cpu": 41.0, "peak_mib": 810.0},
                {"wall": 24.0, "cpu": 25.0, "peak_mib": 805.0}]
    onnx = [{"wall": 5.0, "cpu": 9.0, "peak_mib": 500.0}, {"wall": 8.0, "cpu": 10.0, "peak_mib": 510.0},
            {"wall": 8.0, "cpu": 11.0, "peak_mib": 505.0}]
    row = versus.summary("onnx", onnx, original)
    assert row["ratio"] == 4.0 and row["wall"] == 8.0 and row["cpu"] == 10.0 and row["peak"] == 505.0  # 4, 5, 3
    assert versus.targets([row], 100) == [["default (onnx) vs the original script (x)", 100, 4.0, 4.0, "PASS"]]
    assert versus.summary("original", original, original)["ratio"] == 1.0


@pytest.mark.model
@pytest.mark.slow
def test_the_original_scripts_stand_in_maps_a_csv(tmp_path, capsys):
    """The stand-in does the original script's whole job on the bundled model: embeddings
    kept as Parquet beside the CSV, clusters, keywords, and a Plotly page written."""
    import pandas as pd

    from benchmarks import original
    from pipeline.demo import load_demo

    people = load_demo()[:30]
    path = tmp_path / "people.csv"
    pd.DataFrame({"name": [d.name for d in people], "text": [d.text for d in people]}).to_csv(path, index=False)
    assert original.main([str(path), "-o", str(tmp_path / "map.html"), "--model", "bundled"]) == 0
    assert "visualization saved to" in capsys.readouterr().out
    saved = pd.read_parquet(path.with_suffix(".parquet"))
    assert len(saved) == 30 and len(saved["text_embedding"][0]) == 384
    page = (tmp_path / "map.html").read_text(encoding="utf-8")
    assert "plotly" in page.lower() and people[0].name in page
