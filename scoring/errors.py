"""Exceptions raised by the scoring package.

Every validation problem is a :class:`ScoringInputError` carrying the name of the offending input
(``field``, e.g. ``"comparisons[3].ratio"``) and a human-readable ``detail``, so a web service can turn
it into a field-level validation error without parsing messages.
"""

from __future__ import annotations


class ScoringError(Exception):
    """Base class of every error raised deliberately by :mod:`scoring`."""


class ScoringInputError(ScoringError, ValueError):
    """An input is malformed or violates a rule of the maths.

    Attributes:
        field: dotted/indexed path of the offending input, e.g. ``"weights.13"`` or ``"order[2]"``.
        detail: what is wrong, in plain words.
    """

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class DisconnectedComparisonsError(ScoringInputError):
    """Pairwise comparisons whose comparison graph falls apart into several pieces.

    Weights of principles in different pieces cannot be related to each other, so no weighting
    exists. ``components`` lists the connected groups of principle numbers (largest first) and
    ``unconnected`` the principles outside the largest group.
    """

    def __init__(self, components: tuple[tuple[int, ...], ...]) -> None:
        self.components = components
        self.unconnected: tuple[int, ...] = tuple(sorted(p for comp in components[1:] for p in comp))
        groups = "; ".join("{" + ", ".join(str(p) for p in comp) + "}" for comp in components)
        super().__init__(
            "comparisons",
            "the comparisons do not connect all compared principles: principles "
            f"{', '.join(str(p) for p in self.unconnected)} are not connected to principles "
            f"{', '.join(str(p) for p in components[0])} (groups: {groups})",
        )
