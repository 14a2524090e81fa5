"""The ``embedding_backend = onnx`` encoder: a sentence-transformers model run by ONNX Runtime.

Why: a cold ``batchviz map`` spent seconds importing torch, transformers and
sentence-transformers before it encoded a word. ONNX Runtime and the ``tokenizers``
library import in a fraction of that, and encode at the same speed here. The vectors are
the same function as the torch backend's (fp32, same tokenizer, same pooling): they share
the embedding cache (tested to a cosine of 0.99999 or more).

The model is exported to ONNX once per model folder (torch is imported then only, and a
log line announces the pause) and kept in the user's cache (``pipeline.user_cache``,
``onnx/<model>-<digest>``); the digest covers the folder's files and ``EXPORT_VERSION``,
so a changed model or export is made again. Supported: a local sentence-transformers
folder made of a Transformer, then mean or CLS pooling, then optionally Normalize — the
bundled all-MiniLM-L6-v2 and most sentence models. Anything else raises
``ModelLoadError`` saying why (``why_not`` says it without loading anything);
``pipeline.embed`` then runs the model on torch instead.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from pipeline.errors import ModelLoadError
from pipeline.user_cache import user_cache

log = logging.getLogger(__name__)

SETTING = "embedding_backend"
EXPORT_VERSION = "1"  # bump when the export below changes, so old exports are not reused
MODULES = ("Transformer", "Pooling", "Normalize")
POOLINGS = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
INSTALL = "pip install onnxruntime onnx (onnx is for the one-time export)"


def _unsupported(folder: Path, why: str) -> ModelLoadError:
    return ModelLoadError(f"{SETTING} = onnx cannot run the model in {folder}: {why}")


def _check(folder: Path) -> str:
    """The folder's pooling ("mean" or "cls"); ``ModelLoadError`` if this backend cannot run it."""
    if not (folder / "tokenizer.json").exists():
        raise _unsupported(folder, "it is not a local sentence-transformers folder with a tokenizer.json "
                                   "(a hub name is not downloaded for the onnx backend)")
    return _pooling(folder)


def why_not(folder: str | Path) -> str | None:
    """Why this backend cannot run the model in ``folder`` (None: it can, as far as its files
    tell); reads a few small files, loads nothing."""
    try:
        _check(Path(folder))
    except ModelLoadError as exc:
        return str(exc)
    return None


def _read_json(path: Path, default=None):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def _pooling(folder: Path) -> str:
    """"mean" or "cls", from the folder's modules.json and pooling config."""
    modules = _read_json(folder / "modules.json", [])
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k not in MODULES for k in kinds):
        raise _unsupported(folder, f"its modules are {kinds or 'not listed'}; supported: Transformer, "
                                   "Pooling (mean or CLS), Normalize")
    pooling_path = next(m.get("path", "") for m in modules if m["type"].endswith("Pooling"))
    config = _read_json(folder / pooling_path / "config.json", {})
    modes = [mode for key, mode in POOLINGS.items() if config.get(key)]
    others = [k for k, v in config.items() if k.startswith("pooling_mode") and v and k not in POOLINGS]
    if len(modes) != 1 or others:
        raise _unsupported(folder, "its pooling is not mean or CLS alone")
    return modes[0]


def _digest(folder: Path) -> str:
    """Names, sizes and modification times of the model's files: a changed model re-exports."""
    digest = hashlib.sha256(f"{EXPORT_VERSION}|{folder.resolve()}".encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"|{path.relative_to(folder)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def exported_model(folder: Path) -> Path:
    """The folder's model as ONNX in the user's cache, exported now if it is not there yet."""
    target = user_cache("onnx") / f"{folder.name}-{_digest(folder)}" / "model.onnx"
    if not target.exists():
        log.info("Exporting the embedding model to ONNX, once (%s, kept in %s; it takes a while)…", folder, target.parent)
        started = time.perf_counter()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _export(folder, target)
            log.info("Exported the model to ONNX in %.1f s", time.perf_counter() - started)
        except OSError as exc:
            raise ModelLoadError(f"{SETTING} = onnx: cannot write the exported model to {target.parent} "
                                 f"({exc}); set XDG_CACHE_HOME to a writable folder") from exc
    return target


def _export(folder: Path, target: Path) -> None:
    """torch → ONNX (fp32, dynamic batch and length), written beside ``target`` then renamed,
    so a reader never sees half a file and two exporting processes do not clash."""
    try:
        import onnx  # noqa: F401  (torch's exporter needs it; fail here with the install hint)
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise ModelLoadError(f"{SETTING} = onnx exports the model once, which needs {exc.name}: {INSTALL}") from exc

    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if _takes_token_types(model) else [])

    class Hidden(torch.nn.Module):  # the transformer's last hidden state, by positional inputs
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            return self.model(**dict(zip(names, inputs))).last_hidden_state

    example = tuple(torch.ones((2, 8), dtype=torch.long) for _ in names)
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "hidden"]}
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".onnx.part")
    os.close(handle)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(Hidden(), example, temporary, input_names=names, output_names=["hidden"],
                              dynamic_axes=axes, opset_version=17, dynamo=False)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _takes_token_types(model) -> bool:
    return "token_type_ids" in inspect.signature(model.forward).parameters


def usable_cores() -> int:
    """The processors this process may run on (all of them where the OS cannot say)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class OnnxEncoder:
    """Encodes a batch of texts like ``SentenceTransformer.encode(..., normalize_embeddings=True)``
    (``pipeline.embed.encode_in_batches`` feeds it)."""

    backend = "onnx"

    def __init__(self, folder: str | Path, max_tokens: int | None = None):
        folder = Path(folder)
        self.pooling = _check(folder)
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelLoadError(f"{SETTING} = onnx needs {exc.name}: {INSTALL}") from exc
        limit = max_tokens or _read_json(folder / "sentence_bert_config.json", {}).get("max_seq_length") or 512
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(int(limit))
        self.tokenizer.no_padding()  # each batch is padded to its own longest text below
        pad = _read_json(folder / "tokenizer_config.json", {}).get("pad_token") or "[PAD]"
        self.pad_id = self.tokenizer.token_to_id(pad if isinstance(pad, str) else pad.get("content", "[PAD]")) or 0
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = usable_cores()
        # its idle threads sleep instead of spinning: a cold build imports UMAP beside the
        # encode, and on 2 cores a spinning thread took that CPU (spinning: 1.24x the CPU)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only: its warnings are not the user's concern
        self.session = onnxruntime.InferenceSession(str(exported_model(folder)), options,
                                                    providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def lengths(self, texts: list[str]) -> list[int]:
        """Each text's word pieces as the model will read it (cut at its length limit)."""
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts))]

    def encode_batch(self, texts: list[str]) -> np.ndarray:
        """One batch, padded to its longest text: unit vectors, one per text."""
        vectors = self._pooled(self.tokenizer.encode_batch(list(texts)))
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)

    def _pooled(self, encodings) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, :len(encoding.ids)], mask[row, :len(encoding.ids)] = encoding.ids, 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, {name: feed[name] for name in self.inputs})[0]
        if self.pooling == "cls":
            return hidden[:, 0]
        return (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
