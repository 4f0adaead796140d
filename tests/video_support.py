"""Shared pieces of the video tests: consultations with join tokens, written straight to the DB."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.tokens import hash_token, new_id, new_room_id, new_token
from service.storage.models import Consultation, Participant
from tests.factories import CREATED, World

ORIGIN = "http://127.0.0.1:8080"  # the test settings' base URL: the default allowed origin


@dataclass
class Call:
    """A consultation with a participant row per person; `tokens` maps role → join token."""

    id: str
    room_id: str
    starts_at: datetime
    ends_at: datetime
    gp_participant: str
    participants: dict[str, str] = field(default_factory=dict)  # role → participant id
    tokens: dict[str, str] = field(default_factory=dict)  # role → join token

    def ws_path(self, role: str | None = None, *, token: str | None = None) -> str:
        chosen = token if token is not None else (self.tokens[role] if role else None)
        query = f"?token={chosen}" if chosen is not None else ""
        return f"/ws/{self.room_id}{query}"


async def make_call(
    db: async_sessionmaker[AsyncSession],
    world: World,
    starts_at: datetime,
    *,
    minutes: int = 30,
    status: str = "confirmed",
    guests: tuple[str, ...] = ("patient", "relative"),
    gp_token: bool = False,
) -> Call:
    """A consultation at `starts_at` between the world's GP and specialist, with guests.

    Each guest (and the GP's row, if `gp_token`) gets a fresh join token stored as SHA-256 only.
    """
    ends_at = starts_at + timedelta(minutes=minutes)
    consultation = Consultation(
        id=new_id(),
        room_id=new_room_id(),
        kind="joint",
        status=status,
        awaiting="hospital_side" if status == "requested" else None,
        revision=1,
        gp_id=world.gp,
        specialist_id=world.specialist,
        department_id=world.geriatrics,
        booked_by_id=world.gp,
        patient_id=world.patient,
        patient_present=True,
        patient_group="frail_elderly",
        patient_location="home",
        purpose=None,
        starts_at=starts_at,
        ends_at=ends_at,
        municipality_number="4631",
        hospital_id=world.haukeland,
        created_at=CREATED,
        updated_at=CREATED,
    )
    call = Call(
        id=consultation.id,
        room_id=consultation.room_id,
        starts_at=starts_at,
        ends_at=ends_at,
        gp_participant="",
    )
    rows: list[Participant] = []
    gp_row = _participant(consultation.id, "gp", "Kari Fastlege", user_id=world.gp)
    call.gp_participant = gp_row.id
    if gp_token:
        token = new_token()
        gp_row.token_hash = hash_token(token)
        call.tokens["gp"] = token
    rows.append(gp_row)
    names = {"patient": "Pasient Ein", "relative": "Pårørande Ein", "interpreter": "Tolk Ein"}
    for role in guests:
        row = _participant(consultation.id, role, names.get(role, f"Person {role}"))
        token = new_token()
        row.token_hash = hash_token(token)
        call.tokens[role] = token
        call.participants[role] = row.id
        rows.append(row)
    async with db() as s, s.begin():
        s.add(consultation)
        await s.flush()
        s.add_all(rows)
    return call


def _participant(
    consultation_id: str, role: str, name: str, *, user_id: int | None = None
) -> Participant:
    return Participant(
        id=new_id(),
        consultation_id=consultation_id,
        role=role,
        user_id=user_id,
        name=name,
        language="nn",
        created_at=CREATED,
    )
