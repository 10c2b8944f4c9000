from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.money import Money, SignedFixed2

Aggregation = Literal["mean", "median", "trimmed_mean", "moderated", "calibrated"]


class WeightingRef(BaseModel):
    id: int
    name: str
    method: str
    weights: dict[str, float]


class RankingItem(BaseModel):
    rank: int
    proposal_id: int
    reference: str
    title: str
    capability: str
    kind: str
    panel_id: int | None
    weighted_score: float = Field(description="W = 100 · Σ w·n, 0 to 100.")
    principle_scores: dict[str, float | None] = Field(
        description="Aggregated score per principle, on the scale."
    )
    scorers: int = Field(description="Submitted, unconflicted scorecards counted.")
    max_spread: float | None
    coverage: float
    complete: bool
    total_cost: str
    total_saving: str
    net_cost: str
    score_per_million: float | None = Field(description="Weighted score per £1m net cost; null when net ≤ 0.")


class RankingOut(BaseModel):
    cycle_id: int
    weighting: WeightingRef
    aggregation: Aggregation
    not_applicable_policy: str
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


class Dependency(BaseModel):
    model_config = ConfigDict(extra="forbid")

    proposal_id: int
    requires_id: int


class SelectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weighting_id: int | None = Field(None, description="Default: the cycle's default weighting.")
    aggregation: Aggregation = "mean"
    budgets: dict[str, Money] | None = Field(
        None, description="Per financial year; default: the cycle's envelopes."
    )
    must_fund: list[int] = Field(default_factory=list)
    exclude: list[int] = Field(default_factory=list)
    dependencies: list[Dependency] = Field(default_factory=list, description="proposal_id needs requires_id.")
    exclusive_groups: list[list[int]] = Field(default_factory=list, description="At most one of each group.")
    time_limit_s: float = Field(10.0, gt=0, le=60)


class GreedyOut(BaseModel):
    selected: list[int]
    objective: float
    spend: dict[str, SignedFixed2]
    headroom: dict[str, SignedFixed2]
    feasible: bool
    only_in_optimal: list[int]
    only_in_greedy: list[int]


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
    greedy: GreedyOut
    frontier: list[FrontierPoint]


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


class SwitchingValue(BaseModel):
    principle: int
    weight: float
    top_k: Interval | None
    selection: Interval | None


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
