"""How consultations and related records look in JSON (the API's response shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from service.availability import Interval
from service.models import Consultation, ConsultationEvent, Participant


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


def slot_json(slot: Interval, tz: ZoneInfo) -> dict[str, str | None]:
    return {"starts_at": iso(slot.start, tz), "ends_at": iso(slot.end, tz)}
