"""batchviz's folder in the user's cache, for what is costly to make and safe to lose:
numba's compiled UMAP functions and the ONNX export of the embedding model."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache(name: str) -> Path:
    """``$XDG_CACHE_HOME/batchviz/<name>``, else ``~/.cache/batchviz/<name>`` (not created)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "batchviz" / name
