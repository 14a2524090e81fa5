"""The onnx embedding backend: the torch backend's vectors, without torch in a cold process."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline import onnx_encoder
from pipeline.embed import _bundled_path, load_embedder
from pipeline.errors import ModelLoadError

REPO = Path(__file__).resolve().parents[2]
TEXTS = [
    "I write compilers and love programming language design.",
    "I bake sourdough bread and grow tomatoes in my garden.",
    "",  # nothing but the special tokens
    "hi",
    "distributed systems and databases " * 120,  # far past the model's 256 word pieces
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    """A user cache of the module's own, so the export is made (once) by these tests."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(cache))
        yield cache


@pytest.mark.model
@pytest.mark.parametrize("max_tokens", [None, 16])
def test_onnx_backend_gives_the_torch_backends_vectors(onnx_cache, real_embedder, max_tokens):
    """Same texts, same cut: the same unit vectors (cosine ≥ 0.9999) and so the same cache key."""
    onnx = load_embedder(None, max_tokens=max_tokens, backend="onnx")
    torch = load_embedder(None, max_tokens=max_tokens, backend="torch")
    ours, theirs = onnx.encode(TEXTS), torch.encode(TEXTS)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape == (len(TEXTS), 384)
    assert np.min(np.sum(ours * theirs, axis=1)) >= 0.9999
    assert onnx.model_id == torch.model_id and onnx.dim == 384
    assert onnx.encode([]).shape == (0, 384)


@pytest.mark.model
@pytest.mark.slow
def test_a_cold_process_encodes_with_the_export_and_without_torch(onnx_cache, real_embedder):
    """Once the model is exported, a fresh process encodes without importing torch,
    transformers or sentence-transformers, and without exporting again."""
    # the export into this module's cache, made here if not yet (not through ``.load()``:
    # onnx is the default backend, so an earlier test may have loaded the process's shared
    # encoder from another cache)
    exported = onnx_encoder.exported_model(Path(_bundled_path()))
    assert exported.is_relative_to(onnx_cache) and exported.is_file()
    made = exported.stat().st_mtime_ns
    script = ("import json, sys; from pipeline.embed import load_embedder; "
              f"v = load_embedder(None, backend='onnx').encode({TEXTS[:2]!r}); "
              "print(json.dumps([[m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules], "
              "v.tolist()]))")
    env = {**os.environ, "XDG_CACHE_HOME": str(onnx_cache), "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    imported, vectors = json.loads(out.stdout.strip().splitlines()[-1])
    assert imported == []
    torch = load_embedder(None, backend="torch").encode(TEXTS[:2])
    assert np.min(np.sum(np.array(vectors) * torch, axis=1)) >= 0.9999
    assert exported.stat().st_mtime_ns == made


def fake_model(folder: Path, modules=("Transformer", "Pooling", "Normalize"), pooling="pooling_mode_mean_tokens"):
    """A model folder with the configuration files the onnx backend reads (no weights)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_text("{}", encoding="utf-8")
    listed = [{"idx": i, "path": "" if kind == "Transformer" else f"{i}_{kind}",
               "type": f"sentence_transformers.models.{kind}"} for i, kind in enumerate(modules)]
    (folder / "modules.json").write_text(json.dumps(listed), encoding="utf-8")
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({pooling: True}), encoding="utf-8")
    return folder


@pytest.mark.parametrize("modules, pooling, said", [
    (("Transformer", "Pooling", "Dense", "Normalize"), "pooling_mode_mean_tokens", "Dense"),
    (("Transformer", "Pooling"), "pooling_mode_max_tokens", "not mean or CLS"),
])
def test_a_model_the_backend_cannot_run_is_refused_saying_why(tmp_path, modules, pooling, said):
    """A Dense layer or max pooling: the onnx encoder refuses it, naming the setting, the
    folder and the reason, and ``why_not`` says the same without loading anything."""
    folder = fake_model(tmp_path / "model", modules, pooling)
    with pytest.raises(ModelLoadError) as caught:
        onnx_encoder.OnnxEncoder(folder)
    message = str(caught.value)
    assert said in message and "embedding_backend = onnx" in message and str(folder) in message
    assert onnx_encoder.why_not(folder) == message and onnx_encoder.why_not(_bundled_path()) is None


def test_a_hub_name_is_not_downloaded_for_the_onnx_backend():
    """A hub name (not a folder) is refused with a message, not fetched."""
    assert "hub name" in onnx_encoder.why_not("someone/some-model")
    with pytest.raises(ModelLoadError) as caught:
        onnx_encoder.OnnxEncoder("someone/some-model")
    assert "embedding_backend" in str(caught.value) and "hub name" in str(caught.value)


def test_missing_onnxruntime_says_how_to_install_it(monkeypatch):
    """Without onnxruntime the error says which package and the pip command."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(ModelLoadError) as caught:
        onnx_encoder.OnnxEncoder(_bundled_path())
    assert "onnxruntime" in str(caught.value) and "pip install onnxruntime" in str(caught.value)


def max_pooled_copy(folder: Path) -> Path:
    """The bundled model with max pooling instead of mean: sentence-transformers runs it,
    the onnx backend does not (its files linked, only the pooling configuration new)."""
    folder.mkdir()
    bundled = Path(_bundled_path())
    for entry in bundled.iterdir():
        if entry.name != "1_Pooling":
            (folder / entry.name).symlink_to(entry)
    config = json.loads((bundled / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    config.update(pooling_mode_mean_tokens=False, pooling_mode_max_tokens=True)
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


@pytest.mark.model
def test_a_model_onnx_cannot_run_runs_on_torch_and_the_log_says_why_once(tmp_path, caplog):
    """The default backend is onnx; a model it cannot run (max pooling) is encoded by torch,
    with one warning naming the reason, however many embedders use it."""
    folder = str(max_pooled_copy(tmp_path / "max-pooled"))
    embedder = load_embedder(folder)
    assert embedder.backend == "onnx" and embedder.runs_on == "torch"  # known from its files already
    with caplog.at_level(logging.WARNING, logger="pipeline.embed"):
        vectors = embedder.encode(TEXTS[:2])
        again = load_embedder(folder).encode(TEXTS[:2])
    warnings = [r.getMessage() for r in caplog.records if r.name == "pipeline.embed"]
    assert len(warnings) == 1, warnings
    assert "not mean or CLS" in warnings[0] and "on torch instead" in warnings[0] and folder in warnings[0]
    assert embedder.load().backend == "torch" and embedder.runs_on == "torch"
    torch = load_embedder(folder, backend="torch").encode(TEXTS[:2])
    assert np.allclose(vectors, torch, atol=1e-5) and np.allclose(again, vectors)


@pytest.mark.model
def test_a_failed_export_runs_on_torch_and_leaves_no_export(tmp_path, monkeypatch, caplog):
    """An export that fails (an architecture torch's exporter cannot trace) falls back to torch,
    saying why, and leaves nothing in the cache that a later run would take for an export."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def refuse(folder, target):
        raise RuntimeError("the exporter cannot trace this model")

    monkeypatch.setattr(onnx_encoder, "_export", refuse)
    with caplog.at_level(logging.WARNING, logger="pipeline.embed"):
        embedder = load_embedder(None, max_tokens=23)  # a key of its own: loaded afresh here
        vectors = embedder.encode(TEXTS[:2])
    assert embedder.load().backend == "torch" and vectors.shape == (2, 384)
    assert any("cannot trace this model" in r.getMessage() for r in caplog.records)
    assert not list((tmp_path / "cache").rglob("*.onnx"))


@pytest.mark.model
def test_the_export_is_announced_once(tmp_path, monkeypatch, caplog):
    """The first use of a model exports it with a log line saying so; the next load uses the
    cached export quietly."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = Path(_bundled_path())
    with caplog.at_level(logging.INFO, logger="pipeline.onnx_encoder"):
        first = onnx_encoder.exported_model(folder)
        again = onnx_encoder.exported_model(folder)
    said = [r.getMessage() for r in caplog.records if r.name == "pipeline.onnx_encoder"]
    assert first == again and first.is_file()
    assert sum("Exporting the embedding model" in line for line in said) == 1 and any("Exported" in line for line in said)


def test_the_export_is_keyed_by_the_models_files(tmp_path):
    """Changing any file of the model gives another export folder; the same files, the same one."""
    folder = fake_model(tmp_path / "model")
    first = onnx_encoder._digest(folder)
    assert onnx_encoder._digest(folder) == first
    (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}', encoding="utf-8")
    assert onnx_encoder._digest(folder) != first


def test_cls_pooling_is_read_from_the_model(tmp_path):
    """The pooling comes from the model's own configuration: mean for the bundled model."""
    assert onnx_encoder._pooling(Path(_bundled_path())) == "mean"
    assert onnx_encoder._pooling(fake_model(tmp_path / "cls", pooling="pooling_mode_cls_token")) == "cls"


def test_backend_setting_reaches_the_embedder_and_a_bad_one_is_refused(tmp_path):
    """embedding_backend in the zuliprc picks the backend, onnx when unset; an unknown one is
    a settings error."""
    from bot.settings import SettingsError, load_settings

    path = tmp_path / "zuliprc"
    path.write_text("[batchviz]\n", encoding="utf-8")
    assert load_settings(path).embedder().backend == "onnx"
    path.write_text("[batchviz]\nembedding_backend = torch\n", encoding="utf-8")
    assert load_settings(path).embedder().backend == "torch"
    path.write_text("[batchviz]\nembedding_backend = tensorflow\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert "embedding_backend" in str(caught.value) and "onnx" in str(caught.value)


def test_cli_backend_option_reaches_the_embedder():
    """`batchviz map` builds with the onnx backend by default; `--backend torch` picks torch."""
    from bot.cli import _embedder, build_parser

    parser = build_parser()
    assert _embedder(parser.parse_args(["map", "--csv", "x.csv"])).backend == "onnx"
    assert _embedder(parser.parse_args(["map", "--csv", "x.csv", "--backend", "torch"])).backend == "torch"
    assert load_embedder(None).backend == "onnx"


@pytest.mark.model
def test_status_names_the_backend_that_ran_the_model(tmp_path, onnx_cache):
    """A map built with the defaults records onnx, and `status` says so; a torch build says torch."""
    from bot.answers import Answerer, Asker
    from bot.commands import parse
    from bot.service import import_documents, rebuild
    from pipeline.documents import Document
    from pipeline.params import PipelineParams
    from storage import Store

    docs = [Document(f"p{i}", f"Person {i}", text, text) for i, text in enumerate(TEXTS[:2] + TEXTS[3:])]
    with Store(tmp_path / "db.sqlite3") as store:
        import_documents(store, "s", docs)
        for backend in ("onnx", "torch"):
            built = rebuild(store, "s", PipelineParams(), load_embedder(None, backend=backend), refit=True)
            assert built.result.params["embedding_backend"] == backend
            status = Answerer(store, "s", links=None, join_where="here").answer(parse("status"), Asker("p0", "Person 0"))
            assert f"model all-MiniLM-L6-v2 on {backend}." in status


@pytest.mark.model
def test_the_build_worker_keeps_one_onnx_session_between_builds(tmp_path, onnx_cache):
    """Two builds in one worker (``bot.builder.run_job``, as the worker process runs them) on
    the default settings use one loaded ONNX Runtime session: a new introduction is encoded
    without loading the model again."""
    from bot.builder import BuildJob, EmbedderSpec, run_job
    from bot.service import import_documents, offline_message_id
    from pipeline.documents import Document
    from pipeline.params import PipelineParams
    from storage import Store

    database = tmp_path / "db.sqlite3"
    job = BuildJob(database, None, "s", PipelineParams(), EmbedderSpec())
    with Store(database) as store:
        import_documents(store, "s", [Document(f"p{i}", f"Person {i}", t, t) for i, t in enumerate(TEXTS[:2])])
    first = run_job(job)
    session = EmbedderSpec().load().load().session
    with Store(database) as store:
        store.upsert_person("p9", "Person 9")
        store.upsert_message("s", offline_message_id("s", "p9"), "p9", TEXTS[3], TEXTS[3], 99)
    second = run_job(job)
    assert first.result.params["embedding_backend"] == second.result.params["embedding_backend"] == "onnx"
    assert len(second.result) == 3 and EmbedderSpec().load().load().session is session
