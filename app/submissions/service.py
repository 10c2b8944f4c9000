"""Submissions: a ranking (and optionally a selection) frozen with every input, hashed, never edited."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit.service import record
from app.cycles.service import get_cycle
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from app.models import Cycle, CycleStatus, Role, Submission, User
from app.rankings import cache, compute
from app.rankings.schemas import SelectionRequest
from app.rankings.service import run_selection, selection_request
from app.submissions.schemas import SubmissionCreate
from app.weightings.service import get_weighting

READERS = (Role.admin, Role.chair, Role.finance)
# A submission freezes the panel's settled view: once scoring is over.
ISSUABLE = (CycleStatus.moderation.value, CycleStatus.closed.value)
ANSWERS_WITHHELD = (
    "The individual scorers' answers are shown to admins only. They are kept in the frozen record: "
    "content_sha256 covers them and verification recomputes the results from them."
)


def canonical(document: dict[str, Any]) -> bytes:
    """The one serialisation that is hashed: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(document)).hexdigest()


def results_for(inputs: dict[str, Any], selection_req: dict[str, Any] | None) -> dict[str, Any]:
    """What a submission shows, computed from its frozen inputs alone.

    From version 2 of the inputs, proposals below quorum (unless the submission included them) are left
    out of the ranking and the selection and listed apart, under ``not_ranked``, with their coverage."""
    selection = run_selection(inputs, selection_req) if selection_req is not None else None
    if compute.version_of(inputs) < 2:
        return {"ranking": compute.ranking_items(inputs), "selection": selection}
    result = compute.ranking(inputs)
    return {
        "ranking": [it for it in result["items"] if it["rank"] is not None],
        "not_ranked": [it for it in result["items"] if it["rank"] is None],
        "budget_walk": result["budget_walk"],
        "note": result["note"],
        "selection": selection,
    }


def check_something_to_submit(inputs: dict[str, Any]) -> None:
    """A submission freezes a ranking: refuse one with nothing ranked, saying what is missing."""
    arrays = compute.Arrays(inputs)
    if not arrays.ranked_ids:
        note = compute.ranking_note(arrays) or "nothing is ranked"
        raise Conflict(
            f"Nothing to submit. {note}"
            + (" Wait for more scorecards, or set include_below_quorum." if arrays.ids else ""),
        )


def check_reader(user: User) -> None:
    if not user.has_role(*READERS):
        raise Forbidden("Submissions are for finance, chairs and admins.")


def visible_content(user: User, sub: Submission) -> tuple[dict[str, Any], str | None]:
    """The submission's document as ``user`` may see it, and why anything is withheld.

    Individual answers ``[proposal_id, scorer_id, principle, score, na]`` are scorecard-level data: they
    are hashed and stored, but only admins read them here. The stored row is never changed."""
    content = sub.content
    if user.has_role(Role.admin):
        return content, None
    return {**content, "inputs": {**content["inputs"], "answers": None}}, ANSWERS_WITHHELD


def check_can_issue(user: User, cycle: Cycle, override_reason: str | None) -> dict[str, str] | None:
    """Submissions come from a cycle in moderation or closed; an admin may override with a reason.

    Returns the override to record, or None."""
    if cycle.status in ISSUABLE:
        return None
    if not user.has_role(Role.admin):
        raise Conflict(
            f"Cycle {cycle.id} is in '{cycle.status}': submissions are issued once the cycle is in "
            "moderation or closed (an admin may override this with a reason).",
            current_status=cycle.status,
        )
    reason = (override_reason or "").strip()
    if not reason:
        raise ValidationFailed(
            f"Cycle {cycle.id} is in '{cycle.status}'; an admin issuing a submission before moderation "
            "must give override_reason.",
            errors=[
                field_error(
                    ["body", "override_reason"],
                    f"required while the cycle is in '{cycle.status}': say why the submission cannot wait "
                    "for moderation",
                    "missing",
                )
            ],
        )
    return {"cycle_status": cycle.status, "reason": reason}


def get_submission(session: Session, user: User, submission_id: int) -> Submission:
    check_reader(user)
    sub = session.get(Submission, submission_id)
    if sub is None:
        raise NotFound(f"Submission {submission_id} does not exist.")
    return sub


def issue(session: Session, user: User, cycle_id: int, data: SubmissionCreate) -> Submission:
    check_reader(user)
    cycle = get_cycle(session, cycle_id)
    override = check_can_issue(user, cycle, data.override_reason)
    weighting = get_weighting(session, cycle.id, data.weighting_id)
    predecessor = None
    if data.supersedes_id is not None:
        predecessor = session.get(Submission, data.supersedes_id)
        if predecessor is None or predecessor.cycle_id != cycle.id:
            raise NotFound(f"Submission {data.supersedes_id} does not exist in cycle {cycle.id}.")
        if predecessor.status != "issued":
            raise Conflict(
                f"Submission {predecessor.id} is already superseded by {predecessor.superseded_by_id}."
            )
    # The inputs document as every ranking read shares it (computed once per revision of the cycle's
    # inputs): the same document gather() builds.
    key = cache.key_of(
        session, cycle, weighting, data.aggregation, include_below_quorum=data.include_below_quorum
    )
    inputs = cache.inputs(session, cycle, weighting, key)
    check_something_to_submit(inputs)
    selection_req = None
    if data.selection is not None:
        selection_req = selection_request(
            cycle,
            inputs,
            SelectionRequest(
                weighting_id=weighting.id, aggregation=data.aggregation, **data.selection.model_dump()
            ),
        )
    issued_at = datetime.now(UTC)
    # What is hashed: what was issued and everything it was computed from. Who and when are columns
    # beside it, so the same inputs always give the same hash.
    content = {
        "title": data.title,
        "note": data.note,
        "inputs": inputs,
        "selection_request": selection_req,
        "results": results_for(inputs, selection_req),
    }
    if override is not None:
        content["override"] = override
    sub = Submission(
        cycle_id=cycle.id,
        title=data.title,
        note=data.note,
        weighting_id=weighting.id,
        aggregation=data.aggregation,
        status="issued",
        content=content,
        content_sha256=sha256(content),
        supersedes_id=data.supersedes_id,
        created_by_id=user.id,
        created_at=issued_at,
    )
    session.add(sub)
    session.flush()
    if predecessor is not None:
        # The only change a submission ever sees: being marked superseded, once.
        done = session.execute(
            update(Submission)
            .where(Submission.id == predecessor.id, Submission.status == "issued")
            .values(status="superseded", superseded_by_id=sub.id)
        )
        if done.rowcount != 1:
            raise Conflict(f"Submission {predecessor.id} was superseded meanwhile.")
        record(
            session,
            user,
            "submission.superseded",
            "submission",
            predecessor.id,
            changes={"status": {"before": "issued", "after": "superseded"}, "superseded_by_id": sub.id},
        )
    record(
        session,
        user,
        "submission.issued",
        "submission",
        sub.id,
        changes={
            "title": data.title,
            "content_sha256": sub.content_sha256,
            "weighting_id": weighting.id,
            "aggregation": data.aggregation,
            "with_selection": selection_req is not None,
            "include_below_quorum": data.include_below_quorum,
            **({"override": override} if override is not None else {}),
        },
    )
    return sub


def list_submissions(session: Session, user: User, cycle_id: int) -> list[Submission]:
    check_reader(user)
    get_cycle(session, cycle_id)
    return list(
        session.scalars(
            select(Submission).where(Submission.cycle_id == cycle_id).order_by(Submission.id.desc())
        )
    )


def verify(sub: Submission) -> dict[str, Any]:
    """Recompute the hash of the stored document, and the results from its frozen inputs."""
    content = sub.content
    stored_ok = sha256(content) == sub.content_sha256
    recomputed = results_for(content["inputs"], content.get("selection_request"))
    results_ok = canonical(recomputed) == canonical(content["results"])
    problems = []
    if not stored_ok:
        problems.append("the stored document does not match its content_sha256: it was changed after issue")
    if not results_ok:
        problems.append("recomputing from the frozen inputs gives different results")
    return {
        "submission_id": sub.id,
        "content_sha256": sub.content_sha256,
        "hash_matches": stored_ok,
        "results_reproduce": results_ok,
        "verified": stored_ok and results_ok,
        "problems": problems,
    }


SELECTED_COLUMN = {"selected": "Selected"}


def rows_with_selected(sub: Submission) -> list[dict[str, Any]]:
    selection = sub.content["results"].get("selection")
    chosen = set(selection["selected"]) if selection else set()
    results = sub.content["results"]
    return [
        {**it, "selected": ("yes" if it["proposal_id"] in chosen else "no") if selection else ""}
        for it in [*results["ranking"], *results.get("not_ranked", [])]
    ]


def issuer_label(session: Session, sub: Submission) -> str:
    issuer = session.get(User, sub.created_by_id) if sub.created_by_id else None
    return f"{issuer.full_name} <{issuer.email}>" if issuer else ""


def file_bytes(session: Session, sub: Submission, fmt: str) -> bytes:
    """The submission's ranking, with a Selected column, as CSV or XLSX; or its board pack as PDF."""
    from app.rankings import exports

    if fmt == "pdf":
        from app.pack.service import build

        return build(sub, issuer_label(session, sub))
    if fmt == "csv":
        return exports.to_csv(rows_with_selected(sub), SELECTED_COLUMN)
    issuer = session.get(User, sub.created_by_id) if sub.created_by_id else None
    inputs = sub.content["inputs"]
    header = exports.header_block(
        inputs["cycle"]["name"],
        inputs["weighting"],
        sub.aggregation,
        issuer.email if issuer else "",
        sub.created_at,
        title=f"Submission {sub.id}: {sub.title}",
    )
    header.append(("content_sha256", sub.content_sha256))
    header.append(("Note", sub.note))
    return exports.to_xlsx(rows_with_selected(sub), header, SELECTED_COLUMN)
