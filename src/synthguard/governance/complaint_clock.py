"""Deadline clocks of open complaints: which deadline runs (acknowledge until the item is
acknowledged, then answer), how urgent it is, and what the sweep owes it.

A deadline is "near" within `remind_before_hours` of passing and "overdue" once passed.
The sweep sends one reminder when a deadline comes near and escalates once when it
passes; `sweep_alert` decides, from the reminders and escalations already recorded,
which of the two (if any) a complaint is owed now. The deadlines themselves are
counted in working days by `calendar.WorkingCalendar` when the complaint arrives.
"""

from __future__ import annotations

from collections.abc import Set
from datetime import datetime, timedelta
from typing import Literal

from synthguard.governance.calendar import WorkingCalendar
from synthguard.governance.complaint_views import Alert, QueueEntry, Urgency
from synthguard.governance.models import ComplaintRow

Deadline = Literal["acknowledge", "answer"]


def next_deadline(row: ComplaintRow) -> tuple[Deadline, datetime]:
    if row.acknowledged_at is None:
        return "acknowledge", row.ack_due_at
    return "answer", row.answer_due_at


def urgency(now: datetime, due_at: datetime, near: timedelta) -> Urgency:
    return "overdue" if now >= due_at else "near" if now >= due_at - near else "ok"


def queue_entry(row: ComplaintRow, now: datetime, near: timedelta,
                calendar: WorkingCalendar) -> QueueEntry:
    deadline, due_at = next_deadline(row)
    return QueueEntry(row.id, row.kind, row.category, row.state, row.level, row.assignee,
                      row.received_at, deadline, due_at,
                      calendar.working_days_left(now, due_at), urgency(now, due_at, near))


def sweep_alert(row: ComplaintRow, now: datetime, near: timedelta,
                done: Set[tuple[str, str]]) -> Alert | None:
    """The reminder or escalation `row` is owed now, if any. `done` holds the
    (action, deadline) pairs already recorded: ("reminder" | "escalation", deadline)."""
    deadline, due_at = next_deadline(row)
    if now < due_at - near:
        return None
    if now >= due_at:
        if ("escalation", deadline) in done:
            return None
        return Alert(row.id, deadline, "overdue", due_at, True)
    if ("reminder", deadline) in done:
        return None
    return Alert(row.id, deadline, "near", due_at, False)
