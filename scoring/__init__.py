"""The maths behind every number the SE&RR scoring service shows (brief, section "Maths").

A pure library: numpy/scipy in, numbers out. It works on plain arrays and frozen dataclasses, so it can
be used from a notebook as well as from the service::

    from scoring import aggregate, derive_weights, rank

    weights = derive_weights("rank_order", order=[[7], [2, 5], [1]])
    agg = aggregate(scores, not_applicable, method="median", scale_min=0, scale_max=5)
    ranking = rank(agg, weights, net_cost=net_cost_pence, references=references)

Conventions: arrays indexed by principle use position ``p - 1`` for principle ``p``; proposals and
scorers are identified by their position in the input arrays; money is integer pence.
See ``docs/maths.md`` for every formula with a worked example.
"""

from .aggregate import AGGREGATIONS, Aggregate, aggregate, answer_values, scorer_leniency
from .agreement import Agreement, agreement, krippendorff_alpha_ordinal
from .compare import RankingComparison, compare_rankings, kendall_tau_b
from .errors import DisconnectedComparisonsError, ScoringError, ScoringInputError
from .intervals import RankIntervals, rank_intervals
from .quorum import Quorum, quorum
from .ranking import RankedItem, Ranking, effective_weights, rank, weighted_scores
from .rules import CR_THRESHOLD, N_PRINCIPLES, SPREAD_FLAG, TIE_TOLERANCE, normalise
from .selection import (
    BudgetWalk,
    Constraint,
    FrontierPoint,
    GreedyResult,
    Infeasibility,
    Portfolio,
    SelectionProblem,
    SelectionResult,
    budget_line,
    budget_walk,
    diagnose,
    efficient_frontier,
    greedy_select,
    portfolio,
    select,
)
from .sensitivity import Interval, Sensitivity, SwitchingValue, dirichlet_weights, sensitivity
from .weights import (
    METHODS,
    RANDOM_INDEX,
    ComparisonResidual,
    PairwiseDiagnostics,
    WeightResult,
    derive_weights,
    normalised_weights,
    pairwise_weights,
    rank_order_centroid,
    rank_order_weights,
)

__all__ = [
    "AGGREGATIONS",
    "CR_THRESHOLD",
    "METHODS",
    "N_PRINCIPLES",
    "RANDOM_INDEX",
    "SPREAD_FLAG",
    "TIE_TOLERANCE",
    "Aggregate",
    "Agreement",
    "BudgetWalk",
    "ComparisonResidual",
    "Constraint",
    "DisconnectedComparisonsError",
    "FrontierPoint",
    "GreedyResult",
    "Infeasibility",
    "Interval",
    "PairwiseDiagnostics",
    "Portfolio",
    "Quorum",
    "RankIntervals",
    "RankedItem",
    "Ranking",
    "RankingComparison",
    "ScoringError",
    "ScoringInputError",
    "SelectionProblem",
    "SelectionResult",
    "Sensitivity",
    "SwitchingValue",
    "WeightResult",
    "aggregate",
    "agreement",
    "answer_values",
    "budget_line",
    "budget_walk",
    "compare_rankings",
    "derive_weights",
    "diagnose",
    "dirichlet_weights",
    "effective_weights",
    "efficient_frontier",
    "greedy_select",
    "kendall_tau_b",
    "krippendorff_alpha_ordinal",
    "normalise",
    "normalised_weights",
    "pairwise_weights",
    "portfolio",
    "quorum",
    "rank",
    "rank_intervals",
    "rank_order_centroid",
    "rank_order_weights",
    "scorer_leniency",
    "select",
    "sensitivity",
    "weighted_scores",
]
