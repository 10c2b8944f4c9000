"""All ORM models, imported together so domains never import each other's models in circles."""

from app.models.audit import AuditEvent
from app.models.base import Base
from app.models.cycle import Cycle, CycleStatus, CycleYear, NotApplicablePolicy
from app.models.idempotency import IdempotencyKey
from app.models.mfa import MfaChallenge, MfaRecoveryCode, UserMfa
from app.models.panel import CONFLICT_TYPES, Conflict, Panel, PanelMember, PanelProposal
from app.models.principle import Principle
from app.models.proposal import (
    Proposal,
    ProposalFinancial,
    ProposalKind,
    ProposalSelfAssessment,
    ProposalStatus,
)
from app.models.ranking_revision import RankingRevision
from app.models.scorecard import ModeratedScore, Scorecard, ScorecardAnswer
from app.models.submission import Submission
from app.models.throttle import AuthThrottle
from app.models.user import ApiToken, Role, User, UserRole
from app.models.web_session import WebSession
from app.models.weighting import WEIGHTING_METHODS, Weighting

__all__ = [
    "AuthThrottle",
    "IdempotencyKey",
    "MfaChallenge",
    "MfaRecoveryCode",
    "UserMfa",
    "WebSession",
    "Submission",
    "WEIGHTING_METHODS",
    "Weighting",
    "CONFLICT_TYPES",
    "Conflict",
    "ModeratedScore",
    "Panel",
    "PanelMember",
    "PanelProposal",
    "Scorecard",
    "ScorecardAnswer",
    "ApiToken",
    "AuditEvent",
    "Base",
    "Cycle",
    "CycleStatus",
    "CycleYear",
    "NotApplicablePolicy",
    "Principle",
    "RankingRevision",
    "Proposal",
    "ProposalFinancial",
    "ProposalKind",
    "ProposalSelfAssessment",
    "ProposalStatus",
    "Role",
    "User",
    "UserRole",
]
