"""The batchviz command, run through main([...]) with temporary folders."""

from __future__ import annotations

import csv
import re

import pandas as pd
import pytest

from bot.cli import main
from bot.settings import database_path
from pipeline.demo import load_demo
from storage import Store

TOPICS = ["rust compilers and type systems", "watercolour painting and sketching",
          "sourdough baking and fermentation", "distributed databases and consensus"]


@pytest.fixture
def small_csv(tmp_path):
    """A name,text CSV of 16 people in four interests."""
    path = tmp_path / "intros.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "text"])
        for i in range(16):
            writer.writerow([f"Person {i}", f"Hi! I love {TOPICS[i % 4]}, and {TOPICS[i % 4]} again."])
    return path


def test_map_from_csv(small_csv, tmp_path, capsys):
    """`map --csv` writes the HTML and PNG, prints a summary and keeps a snapshot in --data-dir."""
    html, png, data = tmp_path / "m.html", tmp_path / "m.png", tmp_path / "data"
    code = main(["map", "--csv", str(small_csv), "-o", str(html), "--png", str(png),
                 "--model", "hashing", "--data-dir", str(data)])
    out = capsys.readouterr()
    assert code == 0
    assert "16 people" in out.out and f"wrote {html}" in out.out and f"wrote {png}" in out.out
    assert "Person 3" in html.read_text(encoding="utf-8")
    assert png.read_bytes().startswith(b"\x89PNG")
    assert "embed" in out.err  # stage progress goes to stderr
    with Store(database_path(data)) as store:
        assert len(store.latest_snapshot("csv")) == 16


def test_map_pseudonymizes_names(small_csv, tmp_path, capsys):
    """--pseudonymize hides names on the map, except those given to --keep."""
    html = tmp_path / "m.html"
    assert main(["map", "--csv", str(small_csv), "-o", str(html), "--model", "hashing",
                 "--pseudonymize", "--keep", "Person 1"]) == 0
    page = html.read_text(encoding="utf-8")
    assert "Person 1" in page and "Person 2" not in page


def test_malformed_csv_is_a_clear_error(tmp_path, capsys):
    """A broken CSV exits 2 with the file and line number, no traceback."""
    path = tmp_path / "bad.csv"
    path.write_text('name,text\nAda,"fine"\nBob,"unterminated\n', encoding="utf-8")
    assert main(["map", "--csv", str(path), "--model", "hashing", "-o", str(tmp_path / "m.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("batchviz: error: ") and "line 3" in err and "Traceback" not in err


def test_missing_csv(tmp_path, capsys):
    """A missing file is named in a one-line error."""
    assert main(["map", "--csv", str(tmp_path / "nope.csv"), "--model", "hashing"]) == 2
    assert "nope.csv" in capsys.readouterr().err


def test_demo_says_and_exits(tmp_path, capsys):
    """`demo --say` builds the demo map, writes its files and prints the answers."""
    data = tmp_path / "data"
    first = load_demo()[0].name
    assert main(["demo", "--data-dir", str(data), "--model", "hashing",
                 "--say", "near me", "--say", "clusters", "--say", "show cluster 99"]) == 0
    out = capsys.readouterr().out
    assert (data / "demo-map.html").exists() and (data / "demo-map.png").exists()
    assert f"map: {data / 'demo-map.html'}" in out
    assert "> near me\nClosest to you:" in out and "> clusters\n" in out
    assert "There is no group 99" in out
    assert f"**{first}**" not in out.split("> near me", 1)[1].split("> clusters")[0]  # not my own neighbour


def test_demo_as_unknown_person(demo_data_dir, capsys):
    """--as with a name nobody has exits 2 and suggests real names."""
    assert main(["demo", "--data-dir", str(demo_data_dir), "--model", "hashing", "--as", "Zzz Nobody",
                 "--say", "near me"]) == 2
    err = capsys.readouterr().err
    assert "'Zzz Nobody' is not on the map" in err and load_demo()[0].name in err


def test_export_parquet(demo_data_dir, tmp_path, capsys):
    """`export` writes the latest map to Parquet that pandas reads back whole."""
    out = tmp_path / "map.parquet"
    assert main(["export", "--data-dir", str(demo_data_dir), "-o", str(out)]) == 0
    frame = pd.read_parquet(out)
    with Store(database_path(demo_data_dir)) as store:
        result = store.latest_snapshot("demo")
    assert list(frame.columns) == ["person_id", "name", "cluster", "x", "y", "embedding"]
    assert frame["person_id"].tolist() == [d.person_id for d in result.people]
    assert frame["cluster"].tolist() == result.labels.tolist()
    assert len(frame["embedding"][0]) == result.embeddings.shape[1]


def test_export_without_a_map(tmp_path, capsys):
    """Exporting from a folder with no database is a clear error."""
    assert main(["export", "--data-dir", str(tmp_path), "-o", str(tmp_path / "x.parquet")]) == 2
    assert "no batchviz database" in capsys.readouterr().err


def test_run_with_a_bad_setting(tmp_path, capsys):
    """`run` stops at start with a message naming the bad key."""
    rc = tmp_path / "zuliprc"
    rc.write_text("[api]\nemail=a@b.c\nkey=k\nsite=https://x\n[batchviz]\nsource_stream=w\nweb_port=http\n")
    assert main(["run", "--config", str(rc)]) == 2
    assert "web_port" in capsys.readouterr().err


@pytest.mark.model
def test_demo_with_the_bundled_model(tmp_path, capsys):
    """The default demo (real all-MiniLM-L6-v2) finds groups and answers `near me`."""
    assert main(["demo", "--data-dir", str(tmp_path), "--say", "near me"]) == 0
    out = capsys.readouterr().out
    assert " groups, " in out and "group 1 (" in out
    assert "1. **" in out and re.search(r"— (very close|close|some overlap)", out)


def test_chat_reads_piped_lines_until_quit(demo_store, capsys):
    """Piped lines are answered in turn; `quit` ends the chat."""
    import io

    from bot.answers import Answerer
    from bot.chat import chat, choose_person

    answerer = Answerer(demo_store, "demo")
    me = choose_person(demo_store.latest_snapshot("demo"), None)
    assert chat(answerer, me, stdin=io.StringIO("near me\n\nclusters\nquit\nstatus\n")) == 2
    out = capsys.readouterr().out
    assert "> near me" in out and "> clusters" in out and "> status" not in out
