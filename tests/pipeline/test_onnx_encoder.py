"""The onnx embedding backend: the torch backend's vectors, without torch in a cold process."""

import json
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
    torch = real_embedder if max_tokens is None else load_embedder(None, max_tokens=max_tokens)
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
    load_embedder(None, backend="onnx").load()  # the export, made in this process if not yet
    [exported] = (onnx_cache / "batchviz" / "onnx").glob("*/model.onnx")
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
    assert np.min(np.sum(np.array(vectors) * real_embedder.encode(TEXTS[:2]), axis=1)) >= 0.9999
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
def test_a_model_the_backend_cannot_run_is_named_with_the_way_out(tmp_path, modules, pooling, said):
    """A Dense layer or max pooling: ModelLoadError naming the setting and torch as the way out."""
    folder = fake_model(tmp_path / "model", modules, pooling)
    with pytest.raises(ModelLoadError) as caught:
        load_embedder(str(folder), backend="onnx").encode(["hello"])
    message = str(caught.value)
    assert said in message and "embedding_backend = torch" in message and str(folder) in message


def test_a_hub_name_is_not_downloaded_for_the_onnx_backend():
    """A hub name (not a folder) is refused with a message, not fetched."""
    with pytest.raises(ModelLoadError) as caught:
        load_embedder("someone/some-model", backend="onnx").encode(["hello"])
    assert "embedding_backend" in str(caught.value) and "hub name" in str(caught.value)


def test_missing_onnxruntime_says_how_to_install_it(monkeypatch):
    """Without onnxruntime the error says which package and the pip command."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(ModelLoadError) as caught:
        load_embedder(None, max_tokens=17, backend="onnx").encode(["hello"])
    assert "onnxruntime" in str(caught.value) and "batchviz[onnx]" in str(caught.value)


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
    """embedding_backend in the zuliprc picks the backend; an unknown one is a settings error."""
    from bot.settings import SettingsError, load_settings

    path = tmp_path / "zuliprc"
    path.write_text("[batchviz]\nembedding_backend = onnx\n", encoding="utf-8")
    assert load_settings(path).embedder().backend == "onnx"
    path.write_text("[batchviz]\nembedding_backend = tensorflow\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert "embedding_backend" in str(caught.value) and "onnx" in str(caught.value)


def test_cli_backend_option_reaches_the_embedder():
    """`batchviz map --backend onnx` builds with the onnx backend; torch is the default."""
    from bot.cli import _embedder, build_parser

    parser = build_parser()
    assert _embedder(parser.parse_args(["map", "--csv", "x.csv", "--backend", "onnx"])).backend == "onnx"
    assert _embedder(parser.parse_args(["map", "--csv", "x.csv"])).backend == "torch"
