"""Booking a consultation as the GP: the consultation, its participants, held times and history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.actor import Actor
from service.domain.clock import Clock
from service.domain.errors import InvalidInput, NotAllowed
from service.domain.schemas import BookingInput, PersonInput
from service.domain.tokens import new_id, new_room_id
from service.domain.travel.keys import TravelFacts, Traveller, encode_travel_key, local_site_for
from service.domain.travel.reference import ReferenceData, municipality_for_postal_code
from service.settings import Settings
from service.storage import consultations as store
from service.storage.engine import run_transaction
from service.storage.models import Consultation, Participant
from service.usecases.audit import audit
from service.usecases.booking.patients import find_or_create_patient, update_contact
from service.usecases.booking.slots import (
    as_domain_error,
    check_time,
    department_of,
    own_patient,
    span,
    specialist_in,
)


async def book(
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    clock: Clock,
    settings: Settings,
    data: BookingInput,
    *,
    reference: ReferenceData,
) -> Consultation:
    """Book a consultation as the GP.

    The consultation's municipality is the patient's, from their postal code; a postal code
    outside the reference data is refused (422), since the consultation could not be counted.
    Pass the app's `reference` data; without it the shipped data is read.
    """
    if actor.role != "gp" or actor.gp_office_id is None:
        raise NotAllowed("Only a GP with a GP office can book a joint consultation.")
    if data.patient_contact is not None and data.patient_id is None:
        raise InvalidInput(
            "patient_contact is for a registered patient (patient_id).", field="patient_contact"
        )
    if data.patient_id is not None and data.patient is not None:
        raise InvalidInput("Give either patient_id or patient, not both.", field="patient")
    if data.patient_id is None and data.patient is None:
        raise InvalidInput(
            "Name the patient: patient_id for a known one, patient for a new one.",
            field="patient",
        )
    ref = reference
    if data.patient is not None:
        municipality_of(ref, data.patient.postal_code, "patient.postal_code")
    for i, relative in enumerate(data.relatives):
        if relative.postal_code is not None and relative.travel.would_travel:
            municipality_of(ref, relative.postal_code, f"relatives.{i}.postal_code")
    try:
        values, participants = await run_transaction(
            sessionmaker, _book, actor, clock.now(), settings, data, reference
        )
    except IntegrityError as exc:
        raise as_domain_error(exc) from exc
    # What the caller shows: built from the rows just written, not read back.
    consultation = Consultation(**values)
    consultation.participants = [Participant(**p) for p in participants]
    return consultation


async def _book(
    db: AsyncSession,
    actor: Actor,
    now: datetime,
    settings: Settings,
    data: BookingInput,
    ref: ReferenceData,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`book`'s transaction: the consultation's and its participants' rows, as written."""
    assert actor.gp_office_id is not None
    starts_at, ends_at = span(
        now, settings, data.starts_at, timedelta(minutes=data.duration_minutes)
    )
    named = await store.parties(db, data.department_id, data.specialist_id, data.patient_id)
    department = department_of(named)
    specialist_ids = (
        [specialist_in(named.specialist, department.id)] if data.specialist_id is not None else []
    )
    if data.patient_id is not None:
        patient = own_patient(actor, named.patient)
        if data.patient_contact is not None:
            patient = await update_contact(db, patient.id, data.patient_contact)
    else:
        assert data.patient is not None
        patient = await find_or_create_patient(
            db,
            settings,
            actor.gp_office_id,
            data.patient,
            now,
            update_existing=data.update_existing_patient,
        )
    await check_time(
        db,
        now,
        settings,
        user_ids=[actor.user_id, *specialist_ids],
        patient_id=patient.id if data.kind == "joint" else None,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    home = municipality_of(ref, patient.postal_code, "patient_id")
    cid = new_id()
    values: dict[str, Any] = {
        "id": cid,
        "room_id": new_room_id(),
        "kind": data.kind,
        "status": "requested",
        "awaiting": "hospital_side",
        "revision": 0,
        "gp_id": actor.user_id,
        "specialist_id": data.specialist_id,
        "department_id": department.id,
        "booked_by_id": actor.user_id,
        "patient_id": patient.id,
        "patient_present": data.kind == "joint",
        "patient_group": data.patient_group,
        "patient_location": data.patient_location,
        "purpose": data.purpose or None,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "municipality_number": home,
        "hospital_id": department.hospital_id,
        "travel_key": _travel_key(
            ref, data, home, department.hospital_code, actor.municipality_number or ""
        ),
        "relatives_count": len(data.relatives) if data.kind == "joint" else 0,
        "interpreters_count": 1 if data.interpreter is not None else 0,
        "municipal_staff_count": len(data.municipal_staff),
        "created_at": now,
        "updated_at": now,
    }
    participants = _participants(cid, actor, patient, data, now)
    resources = [store.user_resource(actor.user_id)]
    if data.kind == "joint":
        resources.append(store.patient_resource(patient.id))
    resources += [store.user_resource(s) for s in specialist_ids]
    first_event = {
        "consultation_id": cid,
        "at": now,
        "actor_id": actor.user_id,
        "action": "book",
        "status": values["status"],
        "starts_at": starts_at,
        "ends_at": ends_at,
        "revision": 0,
    }
    await store.insert_consultation(db, values, participants, resources, first_event)
    audit(db, at=now, actor=actor, action="create", consultation_ids=[cid])
    return values, participants


def municipality_of(ref: ReferenceData, postal_code: str | None, field: str) -> str:
    if postal_code is None:
        raise InvalidInput("The patient has no postal code; add it first.", field=field)
    try:
        return municipality_for_postal_code(ref, postal_code).number
    except InvalidInput as exc:
        raise InvalidInput(exc.detail, field=field) from exc


def _travel_key(
    ref: ReferenceData, data: BookingInput, home: str, hospital_code: str, office_municipality: str
) -> str | None:
    """The anonymous travel facts of a joint consultation (none when the patient is absent)."""
    if data.kind != "joint":
        return None
    t = data.patient_travel
    relatives = tuple(
        Traveller(
            role="relative",
            municipality=(
                municipality_for_postal_code(ref, r.postal_code).number
                if r.postal_code is not None and r.travel.would_travel
                else home
            ),
            mode=r.travel.mode,
            would_travel=r.travel.would_travel,
            escort=r.travel.escort,
            works=r.travel.works,
        )
        for r in data.relatives
    )
    return encode_travel_key(
        TravelFacts(
            hospital=hospital_code,
            patient_location=data.patient_location,
            local_site_municipality=local_site_for(data.patient_location, office_municipality),
            patient=Traveller(
                role="patient",
                municipality=home,
                mode=t.mode,
                would_travel=t.would_travel,
                escort=t.escort,
                works=t.works,
            ),
            relatives=relatives,
        )
    )


def _participants(
    consultation_id: str, gp: Actor, patient: store.PatientRef, data: BookingInput, now: datetime
) -> list[dict[str, Any]]:
    """The participants' rows, every one with the same keys (one multi-row INSERT)."""

    def row(role: str, name: str, **values: Any) -> dict[str, Any]:
        return {
            "id": new_id(),
            "consultation_id": consultation_id,
            "role": role,
            "user_id": None,
            "name": name,
            "email": None,
            "phone": None,
            "language": "nn",
            "token_hash": None,
            "postal_code": None,
            "would_travel": None,
            "travel_mode": None,
            "escort": False,
            "works": False,
            "created_at": now,
        } | values

    def person(role: str, p: PersonInput, **travel: Any) -> dict[str, Any]:
        return row(
            role,
            p.name,
            email=p.email,
            phone=p.phone,
            language=p.language,
            postal_code=p.postal_code,
            **travel,
        )

    def relative(p: PersonInput) -> dict[str, Any]:
        t = p.travel
        return person(
            "relative",
            p,
            would_travel=t.would_travel,
            travel_mode=t.mode,
            escort=t.escort,
            works=t.works,
        )

    travel = data.patient_travel
    result = [row("gp", gp.name, user_id=gp.user_id, email=gp.email or None, language=gp.language)]
    if data.kind == "joint":
        result.append(
            row(
                "patient",
                patient.name,
                email=patient.email,
                phone=patient.phone,
                language=patient.language,
                postal_code=patient.postal_code,
                would_travel=travel.would_travel,
                travel_mode=travel.mode,
                escort=travel.escort,
                works=travel.works,
            )
        )
        result += [relative(r) for r in data.relatives]
    if data.interpreter is not None:
        result.append(person("interpreter", data.interpreter))
    result += [person("municipal_staff", s) for s in data.municipal_staff]
    return result
