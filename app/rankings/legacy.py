"""The version-1 rules, kept so that submissions frozen before quorum still verify.

A version-1 inputs document ranks every submitted proposal (scored or not), calls a proposal complete
when every weighted principle has an answer, and measured the spread of scores with a not-applicable
answer counting as ``scale_min`` under the ``minimum`` policy. Nothing new is computed this way: every
document gathered today is version 2 (see :mod:`app.rankings.compute`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.rankings.compute import Arrays, K, number_or_none, pence_str
from scoring import agreement


def max_spread(a: Arrays) -> np.ndarray:
    """Per proposal the widest spread of submitted values, a not-applicable answer counting as
    ``scale_min`` under the ``minimum`` policy (the version-1 definition)."""
    policy = a.doc["cycle"]["not_applicable_policy"]
    if policy == "minimum":
        scores, na = np.where(a.na, float(a.scale[0]), a.scores), np.zeros(a.na.shape, dtype=bool)
    else:
        scores, na = a.scores, a.na
    return agreement(scores, na, na_policy=policy, scale_min=a.scale[0], scale_max=a.scale[1]).max_spread


def ranking_items(doc: dict[str, Any]) -> list[dict[str, Any]]:
    a = Arrays(doc)
    if not a.ids:
        return []
    agg, ranking = a.rank()
    spread = max_spread(a)
    scorers = (~np.isnan(a.scores) | a.na).any(axis=2).sum(axis=1)
    items = []
    for i in ranking.order.tolist():
        p = a.proposals[i]
        cost, saving = int(a.cost[i].sum()), int(a.saving[i].sum())
        net = cost - saving
        w = float(ranking.weighted_score[i])
        items.append(
            {
                "rank": int(ranking.rank[i]),
                "proposal_id": p["id"],
                "reference": p["reference"],
                "title": p["title"],
                "capability": p["capability"],
                "kind": p["kind"],
                "panel_id": p["panel_id"],
                "weighted_score": w,
                "principle_scores": {str(k + 1): number_or_none(agg.scores[i, k]) for k in range(K)},
                "scorers": int(scorers[i]),
                "max_spread": number_or_none(spread[i]),
                "coverage": float(ranking.coverage[i]),
                "complete": bool(ranking.complete[i]),
                "total_cost": pence_str(cost),
                "total_saving": pence_str(saving),
                "net_cost": pence_str(net),
                "score_per_million": w / (net / 100 / 1_000_000) if net > 0 else None,
            }
        )
    return items
