"""All ORM models, imported together so domains never import each other's models in circles."""

from app.models.audit import AuditEvent
from app.models.base import Base
from app.models.cycle import Cycle, CycleStatus, CycleYear, NotApplicablePolicy
from app.models.principle import Principle
from app.models.proposal import (
    Proposal,
    ProposalFinancial,
    ProposalKind,
    ProposalSelfAssessment,
    ProposalStatus,
)
from app.models.user import ApiToken, Role, User, UserRole

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Base",
    "Cycle",
    "CycleStatus",
    "CycleYear",
    "NotApplicablePolicy",
    "Principle",
    "Proposal",
    "ProposalFinancial",
    "ProposalKind",
    "ProposalSelfAssessment",
    "ProposalStatus",
    "Role",
    "User",
    "UserRole",
]
