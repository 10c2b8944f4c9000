"""Demo data: a realistic SR21-style review cycle, loaded on first start of an empty database."""

from __future__ import annotations

import random
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.cycles.schemas import CycleCreate, Transition
from app.cycles.service import create_cycle, transition
from app.models import Cycle, CycleStatus, Principle, Proposal, User
from app.panels.schemas import ConflictCreate, PanelCreate
from app.panels.service import create_panel, declare_conflict
from app.proposals.schemas import ProposalCreate
from app.proposals.service import create_proposal
from app.scorecards.schemas import Answer, ModeratedAnswer, ModerationPut, ScorecardPut
from app.scorecards.service import moderate, save
from app.users.schemas import UserCreate
from app.users.service import create_user
from app.weightings.schemas import WeightingCreate
from app.weightings.service import create_weighting

DEMO_PASSWORD = "demo-password"
DEMO_DOMAIN = "example.org"

DEMO_USERS = [
    ("admin", "Alex Admin", ["admin"]),
    ("chair", "Charlie Chair", ["chair"]),
    ("scorer1", "Sam Okafor", ["scorer"]),
    ("scorer2", "Priya Shah", ["scorer"]),
    ("scorer3", "Tom Walsh", ["scorer"]),
    ("scorer4", "Grace Lin", ["scorer"]),
    ("scorer5", "Dan Mercer", ["scorer"]),
    ("finance", "Fiona Finance", ["finance"]),
    ("proposer", "Pat Proposer", ["proposer"]),
]

YEARS = ["2022-23", "2023-24", "2024-25"]
BUDGETS = {
    "2022-23": Decimal("18500000.00"),
    "2023-24": Decimal("16000000.00"),
    "2024-25": Decimal("14000000.00"),
}

# (capability, kind, title, principles the proposal mainly serves)
PROPOSALS = [
    (
        "Digital Exploitation",
        "investment",
        "National digital forensics triage kiosks in every CTU",
        [7, 4, 8],
    ),
    (
        "Digital Exploitation",
        "efficiency",
        "Consolidate regional device-extraction labs into three hubs",
        [12, 10, 9],
    ),
    ("Digital Exploitation", "investment", "Automated media review using machine classification", [7, 5]),
    ("Internet Referral", "efficiency", "Single referral workflow for CTIRU and regional units", [5, 8, 12]),
    ("Internet Referral", "investment", "Industry partnership desk for rapid content removal", [3, 1]),
    ("Surveillance", "reinvestment", "Shared surveillance fleet managed nationally", [9, 12, 10]),
    ("Surveillance", "efficiency", "Rationalise covert vehicle pools across regions", [9, 2]),
    ("Surveillance", "investment", "Flexible surveillance teams deployable across missions", [1, 11, 9]),
    ("Intelligence", "investment", "Common intelligence receipt and assessment platform", [8, 7, 5]),
    ("Intelligence", "efficiency", "Standardise intelligence grading and recording", [8, 5]),
    (
        "Intelligence",
        "reinvestment",
        "Regional intelligence analysts pooled for national tasking",
        [9, 11, 1],
    ),
    ("Investigations", "efficiency", "Case-file preparation moved to trained core staff", [4, 5, 6]),
    ("Investigations", "investment", "Digital evidence management system for CT investigations", [7, 8]),
    ("Investigations", "efficiency", "Remove duplicate senior review layers in case governance", [6, 5]),
    ("Borders", "investment", "Automated passenger data matching at ports", [7, 1]),
    ("Borders", "efficiency", "Merge port officer rosters across neighbouring regions", [11, 12]),
    ("International", "reinvestment", "Overseas liaison network refocused on priority threats", [2, 3]),
    ("International", "efficiency", "Shared international travel and visit approvals service", [5, 12]),
    ("Estates", "efficiency", "Co-locate CTU and CTIU teams in shared regional hubs", [10, 12]),
    ("Estates", "efficiency", "Release two leased London sites", [10, 2]),
    ("Estates", "investment", "Flexible secure working spaces for specialist-generalist teams", [10, 11]),
    ("People", "investment", "Network-wide skills and accreditation register", [8, 11, 4]),
    ("People", "efficiency", "Data-driven workforce planning for officer and staff mix", [11, 2]),
    ("People", "investment", "Core CT foundation training delivered at volume online", [4, 7, 8]),
    ("Communications", "efficiency", "Single ACT campaign production team", [12, 5]),
    ("Communications", "investment", "Public reporting app for suspicious activity", [7, 3]),
    ("Lifetime Nominal Management", "investment", "Risk-based nominal review scheduling tool", [7, 9, 2]),
    ("Lifetime Nominal Management", "efficiency", "Partner-led management of low-risk nominals", [3, 4, 2]),
    ("Data and Analysis", "investment", "National CT data platform and analytics service", [7, 8, 1]),
    ("Data and Analysis", "efficiency", "Retire regional legacy databases", [7, 12, 2]),
    ("Protection Commands", "efficiency", "Merge protection planning cells", [6, 12]),
    ("Protection Commands", "reinvestment", "Threat-led protection resourcing model", [2, 9]),
    ("Special Branch", "efficiency", "Consistent Special Branch operating model", [8, 5]),
    ("Special Branch", "investment", "Mobile devices for Special Branch officers", [7, 11]),
    ("CT Operations Centre", "investment", "CTOC tasking hub for cross-mission flexibility", [1, 9, 3]),
    ("CT Operations Centre", "efficiency", "Streamlined CTOC governance and decision rights", [6, 5]),
    ("Counter State Threats", "investment", "State threats capability built on existing CT teams", [1, 2]),
    (
        "Counter State Threats",
        "reinvestment",
        "Shared specialist assets between CT and state threats",
        [1, 9, 12],
    ),
    ("National Security Collaboration", "efficiency", "Joint tasking with security partners", [3, 6]),
    ("Data and Technology", "efficiency", "Single network service desk for CT technology", [12, 7, 5]),
]

LEADS = [
    "DCS R. Hale",
    "Ms J. Osei",
    "Det Supt K. Brennan",
    "Mr A. Novak",
    "DCI L. Moreau",
    "Ms S. Patel",
    "Supt M. Clarke",
    "Dr E. Fraser",
]


def database_is_empty(session: Session) -> bool:
    return (session.scalar(select(func.count()).select_from(User)) or 0) == 0 and (
        session.scalar(select(func.count()).select_from(Cycle)) or 0
    ) == 0


def _money(rng: random.Random, lo: int, hi: int) -> Decimal:
    """A whole number of thousands of pounds between lo and hi thousand."""
    return Decimal(rng.randint(lo, hi) * 1000).quantize(Decimal("0.01"))


def load_demo(session: Session, settings: Settings) -> dict[str, User]:
    rng = random.Random(2021)
    users: dict[str, User] = {}
    admin: User | None = None
    for handle, name, roles in DEMO_USERS:
        email = f"{handle}@{DEMO_DOMAIN}"
        user = session.scalar(select(User).where(User.email == email))
        if user is None:  # a forced reload reuses the demo users it finds
            user = create_user(
                session,
                settings,
                admin,
                UserCreate(email=email, full_name=name, password=DEMO_PASSWORD, roles=roles),
            )
        users[handle] = user
        admin = admin or user
    assert admin is not None
    taken = set(session.scalars(select(Cycle.name)))
    name = next(
        n for n in ("SR21 SE&RR", *(f"SR21 SE&RR (demo {i})" for i in range(2, 1000))) if n not in taken
    )
    cycle = create_cycle(
        session,
        admin,
        CycleCreate(name=name, financial_years=YEARS, budgets=BUDGETS, scale_min=0, scale_max=5),
    )
    transition(
        session, admin, cycle, Transition(to=CycleStatus.open, reason="Demo cycle opened for proposals")
    )
    titles = {p.number: p.title for p in session.scalars(select(Principle))}
    created: list[tuple[Proposal, list[int]]] = []
    for index, (capability, kind, title, serves) in enumerate(PROPOSALS):
        if kind == "investment":
            costs = [_money(rng, 300, 4500) for _ in YEARS]
            savings = [Decimal("0.00"), _money(rng, 0, 600), _money(rng, 100, 1200)]
        elif kind == "efficiency":
            costs = [_money(rng, 100, 1500), _money(rng, 0, 500), _money(rng, 0, 300)]
            savings = [_money(rng, 0, 800), _money(rng, 400, 2500), _money(rng, 600, 3200)]
        else:
            costs = [_money(rng, 500, 2500) for _ in YEARS]
            savings = [_money(rng, 200, 1500) for _ in YEARS]
        fte = Decimal(rng.randint(-120, 80)) / 4
        summary = (
            f"{title}. The {capability} capability lead proposes this {kind} to "
            + "; ".join(titles[n].lower() for n in serves)
            + ". Benefits are tracked through the network's efficiency register."
        )
        owner = users["proposer"] if index % 8 == 0 else None
        proposal = create_proposal(
            session,
            owner or admin,
            ProposalCreate(
                cycle_id=cycle.id,
                title=title,
                capability=capability,
                kind=kind,
                summary=summary,
                lead=LEADS[index % len(LEADS)],
                fte_change=fte,
                financials=[
                    {"year": y, "cost": c, "saving": s} for y, c, s in zip(YEARS, costs, savings, strict=True)
                ],
                self_assessment={
                    str(n): f"Contributes to '{titles[n]}' as described in the summary." for n in serves
                },
            ),
            cycle=cycle,
        )
        created.append((proposal, serves))
    transition(
        session, admin, cycle, Transition(to=CycleStatus.scoring, reason="Demo panel scoring under way")
    )
    _panel_mid_review(session, rng, cycle, users, created)
    create_weighting(
        session,
        users["chair"],
        cycle.id,
        WeightingCreate(
            name="Digital and consistency first",
            method="points",
            description="Board steer: 100 points, favouring digitisation, consistency and aligned costs.",
            weights={
                "1": 8,
                "2": 14,
                "3": 6,
                "4": 6,
                "5": 8,
                "6": 5,
                "7": 18,
                "8": 14,
                "9": 8,
                "10": 4,
                "11": 5,
                "12": 4,
            },
        ),
    )
    session.flush()
    return users


SCORER_LENIENCY = {"scorer1": 0.0, "scorer2": 0.6, "scorer3": -0.5, "scorer4": 0.2, "scorer5": -0.2}


def _panel_mid_review(
    session: Session,
    rng: random.Random,
    cycle: Cycle,
    users: dict[str, User],
    created: list[tuple[Proposal, list[int]]],
) -> None:
    """A panel of five half-way through: most scorecards submitted, some drafts, some not started,
    one declared conflict and one moderated score."""
    scorers = [users[h] for h in SCORER_LENIENCY]
    create_panel(
        session,
        users["chair"],
        cycle.id,
        PanelCreate(
            name="Capabilities panel",
            member_ids=[u.id for u in scorers],
            proposal_ids=[p.id for p, _ in created],
        ),
    )
    conflicted = created[5][0]
    declare_conflict(
        session,
        users["scorer3"],
        conflicted,
        ConflictCreate(type="line_management", reason="I line-manage the capability lead for this proposal."),
    )
    for index, (proposal, serves) in enumerate(created):
        merit = rng.uniform(0.8, 3.2)
        for handle, lean in SCORER_LENIENCY.items():
            scorer = users[handle]
            if proposal.id == conflicted.id and handle == "scorer3":
                continue
            progress = rng.random()
            if index >= 30 and progress < 0.5:
                continue  # not started yet
            answers = []
            for number in range(1, 13):
                network_wide = number >= 10 and number not in serves
                if network_wide and rng.random() < 0.35:
                    answers.append(
                        Answer(
                            principle=number,
                            not_applicable=True,
                            rationale="Delivered network-wide rather than by this proposal.",
                        )
                    )
                    continue
                value = merit + (1.6 if number in serves else 0.0) + lean + rng.gauss(0, 0.6)
                score = max(cycle.scale_min, min(cycle.scale_max, round(value)))
                rationale = ""
                if number in serves or score in (cycle.scale_min, cycle.scale_max):
                    rationale = f"Scored {score}: " + (
                        "a central aim of the proposal."
                        if number in serves
                        else "little bearing on this principle."
                    )
                answers.append(
                    Answer(
                        principle=number,
                        score=score,
                        rationale=rationale,
                        confidence=rng.choice((2, 3)) if number in serves else None,
                    )
                )
            draft = index >= 24 and progress < 0.8
            save(
                session,
                scorer,
                proposal.id,
                ScorecardPut(scores=answers[: 7 if draft else 12], submit=not draft),
            )
    moderate(
        session,
        users["chair"],
        created[0][0].id,
        ModerationPut(
            scores=[
                ModeratedAnswer(
                    principle=7, score=4, note="Panel agreed 4: the kiosks automate triage but not analysis."
                )
            ]
        ),
    )


def demo_summary(session: Session) -> str:
    n = session.scalar(select(func.count()).select_from(Proposal)) or 0
    return (
        f"{n} proposals; sign in as admin@{DEMO_DOMAIN} (or chair@, scorer1@, finance@, proposer@) "
        f"with password '{DEMO_PASSWORD}'"
    )
