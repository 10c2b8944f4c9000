from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from app.money import Money, SignedFixed2
from app.types import Id

Aggregation = Literal["mean", "median", "trimmed_mean", "moderated", "calibrated"]


class WeightingRef(BaseModel):
    id: int
    name: str
    method: str
    weights: dict[str, float]


class RankInterval(BaseModel):
    low: float = Field(description="5th percentile rank over the resampled panels.")
    high: float = Field(description="95th percentile rank over the resampled panels.")


class RankingItem(BaseModel):
    rank: int | None = Field(description="Competition rank; null when below quorum and not included.")
    proposal_id: int
    reference: str
    title: str
    capability: str
    kind: str
    panel_id: int | None
    weighted_score: float | None = Field(
        description="W = 100 · Σ w·n, 0 to 100; null when the proposal is not ranked (never 0)."
    )
    rank_interval: RankInterval | None = Field(
        None,
        description="How sure the rank is: 5th to 95th percentile rank when the panel's scorecards are "
        "resampled (bootstrap); null when not ranked or resamples=0.",
    )
    p_funded: float | None = Field(
        None,
        description="Share of resampled panels in which the budget walk funds the proposal; null without "
        "budgets or when not ranked.",
    )
    below_quorum: bool = Field(description="Fewer submitted scorecards than its quorum.")
    scorers: int = Field(description="Submitted, unconflicted scorecards counted.")
    eligible: int = Field(
        description="Panel members who may score it (on its panel, no conflict of interest)."
    )
    quorum: int = Field(
        description="Scorecards it needs to be ranked: min_scorecards capped by eligible, ≥ 1."
    )
    coverage_text: str = Field(description='"1 of 5 submitted", or "not yet scored".')
    quorum_note: str | None = Field(description="Why the cycle's min_scorecards cannot be met for it, if so.")
    principle_scores: dict[str, float | None] = Field(
        description="Aggregated score per principle, on the scale."
    )
    max_spread: float | None = Field(description="Widest spread of answered scores over its principles.")
    coverage: float = Field(description="Share of weight on principles with at least one submitted answer.")
    complete: bool = Field(description="Every eligible panel member has submitted.")
    total_cost: str
    total_saving: str
    net_cost: str
    score_per_million: float | None = Field(description="Weighted score per £1m net cost; null when net ≤ 0.")
    funded_by_walk: bool | None = Field(
        description="The budget walk down the ranked list funds it; null without budgets or when not ranked."
    )
    skipped_by_walk: bool | None = Field(
        description="The budget walk passed it over (it did not fit what was left); null as funded_by_walk."
    )


class BudgetWalkOut(BaseModel):
    funded: list[int] = Field(description="Proposals the walk funds, in list order.")
    skipped: list[int] = Field(description="Proposals it passes over, in list order.")
    last_funded_position: int | None = Field(
        description="0-based position in the ranked list of the last funded proposal: the budget line."
    )
    last_funded_rank: int | None
    spend: dict[str, SignedFixed2]
    headroom: dict[str, SignedFixed2]


class RankingOut(BaseModel):
    cycle_id: int
    weighting: WeightingRef
    aggregation: Aggregation
    not_applicable_policy: str
    min_scorecards: int = Field(description="The cycle's quorum setting.")
    include_below_quorum: bool
    resamples: int = Field(description="Bootstrap resamples behind rank_interval and p_funded.")
    seed: int
    ranked: int = Field(description="Proposals ranked (before filters).")
    below_quorum: int = Field(description="Proposals below quorum (before filters).")
    note: str | None = Field(description="What is missing, in plain words, when not everything is ranked.")
    budget_walk: BudgetWalkOut | None = Field(
        description="The walk down the ranked list; null without budgets."
    )
    items: list[RankingItem]
    total: int
    limit: int
    offset: int


class CompareItem(BaseModel):
    proposal_id: int
    reference: str
    rank_a: int
    rank_b: int
    shift: int = Field(description="rank under a − rank under b: positive means it rises under b.")


class CompareOut(BaseModel):
    cycle_id: int
    a: WeightingRef
    b: WeightingRef
    aggregation: Aggregation
    kendall_tau_b: float | None
    top_k: int
    entries: list[int] = Field(description="Proposals in the top k under b but not under a.")
    exits: list[int] = Field(description="Proposals in the top k under a but not under b.")
    items: list[CompareItem]
    below_quorum: list[int] = Field(default_factory=list, description="Proposals left out: below quorum.")
    note: str | None = None


class Dependency(BaseModel):
    model_config = ConfigDict(extra="forbid")

    proposal_id: Id
    requires_id: Id


class SelectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weighting_id: Id | None = Field(None, description="Default: the cycle's default weighting.")
    aggregation: Aggregation = "mean"
    budgets: dict[str, Money] | None = Field(
        None, description="Per financial year; default: the cycle's envelopes."
    )
    must_fund: list[Id] = Field(default_factory=list)
    exclude: list[Id] = Field(default_factory=list)
    dependencies: list[Dependency] = Field(default_factory=list, description="proposal_id needs requires_id.")
    exclusive_groups: list[list[Id]] = Field(default_factory=list, description="At most one of each group.")
    time_limit_s: float = Field(10.0, gt=0, le=60)
    include_below_quorum: StrictBool = Field(
        False, description="Also rank and select proposals below quorum (each is flagged)."
    )
    frontier: StrictBool = Field(
        False,
        description="Also the efficient frontier: the best total score with every year's budget at 0%, "
        "10%, ..., 150%. Off by default (it solves fifteen more integer programmes).",
    )
    frontier_time_limit_s: float | None = Field(
        None,
        gt=0,
        le=60,
        description="Seconds shared by all points of the frontier (when asked for); default: 2.5 times "
        "what the optimum took, between 1 and 10 s.",
    )


class GreedyOut(BaseModel):
    selected: list[int]
    objective: float
    spend: dict[str, SignedFixed2]
    headroom: dict[str, SignedFixed2]
    feasible: bool
    only_in_optimal: list[int]
    only_in_greedy: list[int]
    skipped: list[int] = Field(
        default_factory=list, description="Passed over by the walk (did not fit or blocked), in list order."
    )
    last_funded_rank: int | None = None


class FrontierPoint(BaseModel):
    budget_factor: float
    objective: float | None
    status: str


class SelectionOut(BaseModel):
    cycle_id: int
    weighting: WeightingRef
    aggregation: Aggregation
    budgets: dict[str, Money]
    status: str = Field(description="optimal, or time_limit (best found, see gap).")
    selected: list[int]
    objective: float
    gap: float | None = Field(description="Proven relative optimality gap; 0 when optimal.")
    spend: dict[str, SignedFixed2]
    headroom: dict[str, SignedFixed2]
    greedy: GreedyOut = Field(description="The budget walk down the ranked list.")
    frontier: list[FrontierPoint] = Field(
        description="The efficient frontier when the request asks for it (frontier: true); empty otherwise."
    )
    below_quorum: list[int] = Field(default_factory=list, description="Proposals below quorum.")
    include_below_quorum: bool = False
    note: str | None = None


class SensitivityProposal(BaseModel):
    proposal_id: int
    reference: str
    rank: int
    rank_p5: float
    rank_p50: float
    rank_p95: float
    p_top_k: float
    p_selected: float | None


class Interval(BaseModel):
    low: float
    high: float
    exact: bool


class Overtaking(BaseModel):
    weight: float = Field(description="The principle's weight at which the top k changes.")
    enters: int = Field(description="The proposal that enters the top k there.")
    enters_reference: str
    leaves: int = Field(description="The proposal it overtakes, which leaves the top k.")
    leaves_reference: str


class SwitchingValue(BaseModel):
    principle: int
    weight: float
    top_k: Interval | None = Field(description="Weights of this principle keeping the same top k.")
    selection: Interval | None = Field(
        description="Weights keeping the budget line's funded set; null unless asked for (switching=true), "
        "without budgets, or when undefined."
    )
    top_k_rising: Overtaking | None = Field(
        None, description="Who overtakes whom into the top k when the weight rises to top_k.high; null at 1."
    )
    top_k_falling: Overtaking | None = Field(
        None, description="Who overtakes whom into the top k when the weight falls to top_k.low; null at 0."
    )


class SensitivityOut(BaseModel):
    cycle_id: int
    weighting: WeightingRef
    aggregation: Aggregation
    samples: int
    seed: int
    concentration: float
    top_k: int
    proposals: list[SensitivityProposal]
    switching: list[SwitchingValue]
    below_quorum: list[int] = Field(default_factory=list, description="Proposals left out: below quorum.")
    note: str | None = None
