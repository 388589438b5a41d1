"""The complaint state machine: which states are open, which moves are allowed, and what
a move writes on the complaint (acknowledgement, answer and closing times, the level).

    received -> acknowledged -> in_review -> answered -> closed
    (any open state -> escalated -> in_review / answered / closed)

Starting work or answering also acknowledges; an answered complaint the reporter
disputes is reopened (in_review) and then needs a new answer. Answers go through
`ComplaintDesk.answer`, never through a plain transition.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from synthguard.governance import errors
from synthguard.governance.models import ComplaintRow

Decision = Literal["upheld", "partly_upheld", "rejected", "referred"]
OPEN_STATES = ("received", "acknowledged", "in_review", "escalated")
TRANSITIONS: dict[str, frozenset[str]] = {
    "received": frozenset({"acknowledged", "in_review", "escalated", "closed"}),
    "acknowledged": frozenset({"in_review", "escalated", "closed"}),
    "in_review": frozenset({"escalated", "closed"}),
    "escalated": frozenset({"in_review", "closed"}),
    "answered": frozenset({"in_review", "closed"}),  # reopened when the reporter disputes
    "closed": frozenset(),
}


def check_transition(state: str, to: str) -> None:
    """Refuse a move the flow does not allow (409)."""
    if to not in TRANSITIONS.get(state, frozenset()):
        raise errors.conflict(f"a complaint cannot go from {state} to {to}"
                              + (" (use answer)" if to == "answered" else ""),
                              "invalid_transition")


def apply_move(row: ComplaintRow, to: str, now: datetime) -> str:
    """Put `row` in state `to` with the times and level that go with it; the state before."""
    before = row.state
    if to in ("acknowledged", "in_review", "answered") and row.acknowledged_at is None:
        row.acknowledged_at = now  # starting work or answering acknowledges too
    if to == "escalated":
        row.level = max(row.level, 1)
    if to == "answered":
        row.answered_at = now
    if to == "closed":
        row.closed_at = now
    if to == "in_review" and before == "answered":  # reopened: a new answer is due
        row.answered_at = None
    row.state = to
    return before
