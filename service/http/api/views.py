"""How consultations and related records look in JSON (the API's response shapes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from service.domain.availability import Interval
from service.storage.models import Consultation, ConsultationEvent, Participant


def iso(value: datetime | None, tz: ZoneInfo) -> str | None:
    return value.astimezone(tz).isoformat() if value else None


def participant_json(p: Participant) -> dict[str, Any]:
    return {
        "id": p.id,
        "role": p.role,
        "name": p.name,
        "email": p.email,
        "phone": p.phone,
        "language": p.language,
        "user_id": p.user_id,
    }


def consultation_json(c: Consultation, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": c.id,
        "kind": c.kind,
        "status": c.status,
        "awaiting": c.awaiting,
        "revision": c.revision,
        "gp_id": c.gp_id,
        "specialist_id": c.specialist_id,
        "department_id": c.department_id,
        "hospital_id": c.hospital_id,
        "patient_id": c.patient_id,
        "patient_group": c.patient_group,
        "patient_location": c.patient_location,
        "purpose": c.purpose,
        "starts_at": iso(c.starts_at, tz),
        "ends_at": iso(c.ends_at, tz),
        "duration_minutes": int((c.ends_at - c.starts_at).total_seconds() // 60),
        # The video room (docs/signalling.md): a logged-in clinician connects to /ws/{room_id}.
        "room_id": c.room_id,
        "participants": [participant_json(p) for p in c.participants],
    }


def event_json(e: ConsultationEvent, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "at": iso(e.at, tz),
        "actor_id": e.actor_id,
        "action": e.action,
        "status": e.status,
        "starts_at": iso(e.starts_at, tz),
        "ends_at": iso(e.ends_at, tz),
        "revision": e.revision,
    }


def slots_json(slots: Sequence[Interval], tz: ZoneInfo) -> list[dict[str, str]]:
    """A search result (often hundreds of slots) as JSON, each distinct time formatted once.

    Slots overlap (a 30-minute slot every 15 minutes), so most ends are other slots' starts;
    formatting is most of the cost of the response.
    """
    text: dict[datetime, str] = {}

    def local(t: datetime) -> str:
        formatted = text.get(t)
        if formatted is None:
            formatted = text[t] = t.astimezone(tz).isoformat()
        return formatted

    return [{"starts_at": local(s.start), "ends_at": local(s.end)} for s in slots]
