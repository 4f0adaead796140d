"""Booking joint consultations: create, accept, propose a time, reschedule, cancel, read.

Each function here owns one change and its transaction: it reads what it needs, asks the pure
domain (`availability`, `states`) for a decision, writes the result with its history entry,
audit record and the participants' mails (`notifications`), and commits. The database's overlap
guard has the last word on double booking.

The package by concern: `reads` (lists, one consultation, its history), `slots` (free slots
and time checks), `create` (booking), `patients` (find or create the patient), `transitions`
(accept, propose a time, reschedule, cancel). Callers use the names below:
`from service.usecases import booking; booking.book(...)`.
"""

from service.usecases.booking.create import book
from service.usecases.booking.reads import (
    Overview,
    is_active,
    list_for,
    overview,
    read,
    read_history,
)
from service.usecases.booking.slots import SlotQuery, find_slots
from service.usecases.booking.transitions import DRAFT_ATTEMPTS, accept, cancel, change_time

__all__ = [
    "DRAFT_ATTEMPTS",
    "Overview",
    "SlotQuery",
    "accept",
    "book",
    "cancel",
    "change_time",
    "find_slots",
    "is_active",
    "list_for",
    "overview",
    "read",
    "read_history",
]
