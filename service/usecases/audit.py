"""The audit trail: every read or change of a consultation, by whom, in which role, when.

Records are written in the same transaction as the work they describe, so a change is never
made without its audit record.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.actor import Actor
from service.storage.models import AuditRecord


def audit(
    db: AsyncSession,
    *,
    at: datetime,
    actor: Actor | None,
    action: str,
    consultation_ids: Iterable[str],
    participant_id: str | None = None,
    participant_role: str | None = None,
) -> None:
    db.add_all(
        AuditRecord(**row)
        for row in _rows(at, actor, action, consultation_ids, participant_id, participant_role)
    )


def _rows(
    at: datetime,
    actor: Actor | None,
    action: str,
    consultation_ids: Iterable[str],
    participant_id: str | None,
    participant_role: str | None,
) -> list[dict[str, Any]]:
    return [
        {
            "at": at,
            "actor_id": actor.user_id if actor else None,
            "actor_role": actor.role if actor else (participant_role or "system"),
            "participant_id": participant_id,
            "action": action,
            "consultation_id": cid,
        }
        for cid in consultation_ids
    ]
