"""The patient a booking names: found by fødselsnummer and brought up to date, or new."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.errors import NotAllowed, PatientExists
from service.domain.schemas import PatientContactInput, PatientInput
from service.domain.tokens import keyed_hash
from service.settings import Settings
from service.storage import consultations as store
from service.storage.models import Patient


async def find_or_create_patient(
    db: AsyncSession,
    settings: Settings,
    gp_office_id: int,
    data: PatientInput,
    now: datetime,
    *,
    update_existing: bool = False,
) -> store.PatientRef:
    """The patient with this fødselsnummer, or a new one.

    A registered patient whose stored details differ from `data` is changed only with
    `update_existing`; without it `PatientExists` names them, so the GP sees who is stored
    before anything is overwritten.

    Two bookings of the same new patient at once both find nobody; one writes the patient and
    the other, refused by the unique fødselsnummer, takes that row as found.
    """
    fnr_hash = keyed_hash(settings.fnr_pepper_value, f"fnr:{data.fnr}") if data.fnr else None
    existing = await store.patient_by_fnr_hash(db, fnr_hash) if fnr_hash is not None else None
    if existing is None:
        created = await store.add_patient(
            db,
            Patient(
                gp_office_id=gp_office_id,
                name=data.name,
                email=data.email,
                phone=data.phone,
                postal_code=data.postal_code,
                fnr_hash=fnr_hash,
                language=data.language,
                created_at=now,
            ),
        )
        if created is not None:
            return store.patient_ref(created)
        assert fnr_hash is not None  # only the fødselsnummer is unique
        existing = await store.patient_by_fnr_hash(db, fnr_hash)
        assert existing is not None  # the row that refused ours
    if existing.gp_office_id != gp_office_id:
        # The patient is listed at another office; their GP books for them.
        raise NotAllowed("This patient is registered at another GP office.", field="patient")
    stored = (existing.name, existing.email, existing.phone, existing.postal_code)
    given = (data.name, data.email, data.phone, data.postal_code)
    if stored != given and not update_existing:
        raise PatientExists(
            "A patient with this fødselsnummer is already registered; confirm to update them.",
            patient_id=existing.id,
            field="patient.fnr",
        )
    existing.name = data.name
    existing.email = data.email
    existing.phone = data.phone
    existing.postal_code = data.postal_code
    existing.language = data.language
    return store.patient_ref(existing)


async def update_contact(
    db: AsyncSession, patient_id: int, contact: PatientContactInput
) -> store.PatientRef:
    """A registered patient given the e-mail address or mobile the GP added while booking."""
    patient = await store.patient_by_id(db, patient_id)
    assert patient is not None  # checked to be the GP's own patient
    if contact.email is not None:
        patient.email = contact.email
    if contact.phone is not None:
        patient.phone = contact.phone
    return store.patient_ref(patient)
