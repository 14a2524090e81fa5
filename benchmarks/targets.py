"""The quality targets of ``evaluate.py``: a row per target, data set and regime, PASS/MISS."""

from __future__ import annotations

import numpy as np

from benchmarks.common import verdict

MAX_BATCH_NOISE = 0.20
MIN_KEYWORD_DIVERSITY = 0.8
MIN_PHRASE_SCORE = 0.9
MIN_JUDGE = 0.9  # the keyword judge on the fictional batches
MIN_BATCH_ARI, MIN_HELD_OUT_ARI, MAX_SMALL_NOISE = 0.75, 0.70, 0.15


def summary(values: list[float]) -> tuple[float, float]:
    """(mean, standard deviation) ignoring NaN; NaN when there is nothing."""
    finite = np.asarray([v for v in values if not np.isnan(v)], dtype=float)
    return (float(finite.mean()), float(finite.std())) if len(finite) else (float("nan"), float("nan"))


def mean_of(results: dict, config: str, key: str) -> float:
    return summary(results[config]["values"][key])[0] if config in results else float("nan")


def quality_targets(groups: list, results_by_group: list[dict]) -> list[list]:
    """[target, data, regime, value, target value, PASS/MISS] for batchviz in every group."""
    rows = []
    for group, results in zip(groups, results_by_group):
        value = lambda key, config="batchviz": mean_of(results, config, key)  # noqa: E731
        checks = []
        if "bertopic" in results:
            checks += [("ARI >= BERTopic", value("ari"), value("ari", "bertopic"), False),
                       ("NMI >= BERTopic", value("nmi"), value("nmi", "bertopic"), False),
                       ("keyword judge >= BERTopic", value("judge"), value("judge", "bertopic"), False)]
        checks += [("P@5 full >= 2-D", value("p5_full"), value("p5_2d"), False),
                   ("keyword diversity", value("kw_div"), MIN_KEYWORD_DIVERSITY, False),
                   ("keyword phrase score", value("phrase"), MIN_PHRASE_SCORE, False),
                   ("groups named by generic words only", value("generic_named"), 0.0, True)]
        if group.fictional:
            checks += [("noise <= 15%", value("noise"), MAX_SMALL_NOISE, True),
                       (f"keyword judge >= {MIN_JUDGE}", value("judge"), MIN_JUDGE, False)]
        elif group.batch_sized:
            checks.append(("noise <= 20%", value("noise"), MAX_BATCH_NOISE, True))
        rows += [[name, group.data, group.regime, got, want, verdict(got, want, at_most)]
                 for name, got, want, at_most in checks]
    return rows + fictional_targets(groups, results_by_group)


def fictional_targets(groups: list, results_by_group: list[dict]) -> list[list]:
    """ARI of the fictional batches: the mean over the tuned ones, the held-out one alone."""
    rows = []
    for kind, target in (("tuned", MIN_BATCH_ARI), ("held out", MIN_HELD_OUT_ARI)):
        chosen = [(g, r) for g, r in zip(groups, results_by_group) if g.fictional == kind]
        if not chosen or "batchviz" not in chosen[0][1]:
            continue
        values = [v for _, r in chosen for v in r["batchviz"]["values"]["ari"]]
        got, regime = summary(values)[0], "+".join(g.data.split("/")[-1] for g, _ in chosen)
        rows.append([f"ARI >= {target} ({kind})", "batches", regime, got, target, verdict(got, target, False)])
    return rows
