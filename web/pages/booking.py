"""The booking page (`/bestill`): a GP chooses who, when and how, then books.

One plain form serves readers with and without JavaScript: «Show free times» posts the form back
and it returns with the common free slots (everything typed is kept, and no personal data goes
into a URL); a GET with the choices in the query does the same for links. With JavaScript the
slot list refreshes in place from `/api/v1/slots`. Booking goes through
`service.usecases.booking.book`
with the same `BookingInput` as the API, and every refusal comes back as the form with messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any, Final

from aiohttp import web
from pydantic import ValidationError

from service.domain.actor import Actor
from service.domain.availability import Interval
from service.domain.errors import Conflict, DomainError, InvalidInput, PatientExists
from service.domain.i18n import N_
from service.domain.permissions import BOOKERS
from service.domain.schemas import BookingInput, as_row_id
from service.domain.travel.reference import ReferenceData, municipality_for_postal_code
from service.http import appkeys
from service.http.auth import require_actor
from service.storage.models import Department, Patient, User
from service.usecases import booking, directory
from web.pages.context import flash, render, translator
from web.pages.form_errors import FormErrors, from_domain, from_validation
from web.pages.i18n import LocalTime, choose_language
from web.pages.navigation import BOOK, consultation_url, see_other

SLOT_WINDOW: Final = timedelta(days=28)
DURATIONS: Final = (20, 30, 45, 60, 90)
RELATIVE_ROWS: Final = 3
STAFF_ROWS: Final = 2
PERSON_FIELDS: Final = ("name", "email", "phone", "language", "postal_code")
PATIENT_FIELDS: Final = ("name", "postal_code", "email", "phone", "fnr", "language")
CONTACT_FIELDS: Final = ("email", "phone")
# Ticked on the confirm steps: book although someone gets no invitation; update a stored patient.
CONFIRM_NO_INVITE: Final = "confirm_no_invite"
UPDATE_PATIENT: Final = "update_existing_patient"
TRAVEL_MODES: Final = (
    ("car", N_("Car")),
    ("bus", N_("Bus")),
    ("boat", N_("Boat or ferry")),
    ("taxi_pasientreiser", N_("Taxi (Pasientreiser)")),
    ("ambulance", N_("Ambulance")),
)
TRAVEL_FLAGS: Final = ("escort", "works")
# Choices that decide which slots are free: accepted in the query of a GET.
SLOT_CHOICES: Final = (
    "department_id",
    "specialist_id",
    "patient_mode",
    "patient_id",
    "duration_minutes",
    "kind",
)
# The domain names some fields differently from the form.
DOMAIN_FIELDS: Final = {"ends_at": "starts_at"}


@dataclass(frozen=True, slots=True)
class Slot:
    value: str  # ISO 8601 with offset, exactly as the API gives it
    label: str  # the time of day
    when: str  # day and time, where the day is not shown around it


@dataclass(frozen=True, slots=True)
class SlotDay:
    day: date
    label: str
    slots: list[Slot]
    open: bool


@dataclass(frozen=True, slots=True)
class HospitalGroup:
    hospital: str
    departments: list[Department]


@dataclass(frozen=True, slots=True)
class SpecialistGroup:
    department: Department
    specialists: list[User]


# --- reading the form --------------------------------------------------------------------------


def form_values(data: Mapping[str, Any], names: Sequence[str] | None = None) -> dict[str, str]:
    """The form's text fields as they were typed, to fill the form in again."""
    skip = {"csrf_token", "intent"}
    return {
        k: v
        for k, v in data.items()
        if isinstance(v, str) and k not in skip and (names is None or k in names)
    }


def _text(values: Mapping[str, str], name: str) -> str | None:
    value = values.get(name, "").strip()
    return value or None


def _filled(values: Mapping[str, str], prefix: str, fields: Sequence[str]) -> dict[str, str]:
    return {f: v for f in fields if (v := _text(values, f"{prefix}.{f}")) is not None}


def _person(values: Mapping[str, str], prefix: str) -> dict[str, str] | None:
    """A person row, or None when left empty (a preselected language alone is no person)."""
    filled = _filled(values, prefix, PERSON_FIELDS)
    return filled if set(filled) - {"language"} else None


def booking_data(values: Mapping[str, str]) -> dict[str, Any]:
    """The form as `BookingInput` expects it: empty optional fields left out."""
    data: dict[str, Any] = {
        k: v
        for k in (
            "kind",
            "department_id",
            "specialist_id",
            "patient_group",
            "purpose",
            "starts_at",
            "duration_minutes",
            "patient_location",
        )
        if (v := _text(values, k)) is not None
    }
    if values.get("patient_mode") == "new":
        data["patient"] = _filled(values, "patient", PATIENT_FIELDS)
        if values.get(UPDATE_PATIENT) == "yes":
            data[UPDATE_PATIENT] = True
    elif (patient_id := _text(values, "patient_id")) is not None:
        data["patient_id"] = patient_id
        if contact := _filled(values, "patient_contact", CONTACT_FIELDS):
            data["patient_contact"] = contact
    if data.get("kind", "joint") == "joint":
        travel: dict[str, Any] = {"would_travel": values.get("patient_travel.would_travel") != "no"}
        if (mode := _text(values, "patient_travel.mode")) is not None:
            travel["mode"] = mode
        for flag in TRAVEL_FLAGS:
            travel[flag] = values.get(f"patient_travel.{flag}") == "yes"
        data["patient_travel"] = travel
    data["relatives"] = [
        p for i in range(RELATIVE_ROWS) if (p := _person(values, f"relatives.{i}")) is not None
    ]
    data["municipal_staff"] = [
        p for i in range(STAFF_ROWS) if (p := _person(values, f"municipal_staff.{i}")) is not None
    ]
    if (interpreter := _person(values, "interpreter")) is not None:
        data["interpreter"] = interpreter
    return data


def validate_booking(values: Mapping[str, str]) -> tuple[BookingInput | None, FormErrors]:
    errors = FormErrors()
    if values.get("patient_mode") != "new" and _text(values, "patient_id") is None:
        errors.add("patient_id", N_("Choose the patient, or register a new patient."))
    try:
        data = BookingInput.model_validate(booking_data(values))
    except ValidationError as exc:
        for name, message in from_validation(exc).fields.items():
            errors.add(name, message)
        return None, errors
    return (None if errors else data), errors


def _int(values: Mapping[str, str], name: str) -> int | None:
    """A chosen id, or None when nothing (or nothing that can name a row) was chosen."""
    text = _text(values, name)
    return None if text is None else as_row_id(text)


def slot_query(
    values: Mapping[str, str], now: datetime, errors: FormErrors
) -> booking.SlotQuery | None:
    """What to search for, if the form says enough (a department at least)."""
    department_id = _int(values, "department_id")
    if department_id is None:
        return None
    duration = _int(values, "duration_minutes") or 30
    if duration not in DURATIONS:
        errors.add("duration_minutes", N_("Choose one of the options."))
        return None
    patient_id = _int(values, "patient_id") if values.get("patient_mode") != "new" else None
    return booking.SlotQuery(
        department_id=department_id,
        specialist_id=_int(values, "specialist_id"),
        patient_id=patient_id,
        window_start=now,
        window_end=now + SLOT_WINDOW,
        duration=timedelta(minutes=duration),
    )


def slot_days(
    slots: Sequence[Interval], local: LocalTime, chosen: str | None, *, open_days: int = 3
) -> list[SlotDay]:
    """Free slots grouped by local day; the first days and the chosen one start unfolded."""
    days: list[SlotDay] = []
    for day, group in groupby(slots, key=lambda s: local.local(s.start).date()):
        items = [
            Slot(local.local(s.start).isoformat(), local.time(s.start), local.when(s.start))
            for s in group
        ]
        has_chosen = chosen is not None and any(s.value == chosen for s in items)
        days.append(SlotDay(day, local.day(day), items, len(days) < open_days or has_chosen))
    return days


def window_day_labels(now: datetime, local: LocalTime) -> dict[str, str]:
    """Each local day of the search window as the page writes it, for the script to reuse."""
    first = local.local(now).date()
    last = local.local(now + SLOT_WINDOW).date()
    return {
        (first + timedelta(days=n)).isoformat(): local.day(first + timedelta(days=n))
        for n in range((last - first).days + 1)
    }


def without_invitation(data: BookingInput, patients: Sequence[Patient]) -> list[str]:
    """The names of those taking part who have no e-mail address, so get no invitation."""
    names: list[str] = []
    if data.kind == "joint":
        if data.patient is not None:
            if data.patient.email is None:
                names.append(data.patient.name)
        else:
            stored = next((p for p in patients if p.id == data.patient_id), None)
            contact = data.patient_contact
            email = contact.email if contact is not None and contact.email else None
            if stored is not None and email is None and not stored.email:
                names.append(stored.name)
        names += [r.name for r in data.relatives if r.email is None]
    if data.interpreter is not None and data.interpreter.email is None:
        names.append(data.interpreter.name)
    names += [s.name for s in data.municipal_staff if s.email is None]
    return names


def travel_defaults(ref: ReferenceData, postal_code: str | None) -> tuple[str, str]:
    """Where a patient with this postal code travels from, and their likely way there.

    A municipality whose route to a hospital crosses by ferry (the islands) travels by boat;
    everyone else by car. Unknown or missing postal codes give no place and car.
    """
    if postal_code is None:
        return "", "car"
    try:
        municipality = municipality_for_postal_code(ref, postal_code)
    except InvalidInput:
        return "", "car"
    by_ferry = any(r.ferry_km > 0 for r in municipality.routes.values())
    return municipality.name, "boat" if by_ferry else "car"


# --- the page ---------------------------------------------------------------------------------


async def _choices(request: web.Request, actor: Actor) -> dict[str, Any]:
    choices = await directory.booking_choices(request.app[appkeys.READ_DB], actor)
    departments, specialists = choices.departments, choices.specialists
    hospitals = [
        HospitalGroup(d[0].hospital.name, d)
        for d in (list(g) for _, g in groupby(departments, key=lambda d: d.hospital_id))
    ]
    by_department = {
        d.id: SpecialistGroup(d, [s for s in specialists if s.department_id == d.id])
        for d in departments
    }
    return {
        "hospitals": hospitals,
        "specialist_groups": [g for g in by_department.values() if g.specialists],
        "patients": choices.patients,
        "durations": DURATIONS,
    }


async def _page(
    request: web.Request,
    actor: Actor,
    values: dict[str, str],
    errors: FormErrors,
    *,
    search: bool,
    status: int = 200,
    no_invitation: Sequence[str] = (),
    existing_patient: Patient | None = None,
) -> web.Response:
    choices = await _choices(request, actor)
    values.setdefault("patient_mode", "existing" if choices["patients"] else "new")
    values.setdefault(
        "duration_minutes", str(request.app[appkeys.SETTINGS].default_duration_minutes)
    )
    values.setdefault("kind", "joint")
    values.setdefault("patient_location", "home")
    chosen = next((p for p in choices["patients"] if str(p.id) == values.get("patient_id")), None)
    if chosen is not None and not any(f"patient_contact.{f}" in values for f in CONTACT_FIELDS):
        # The stored details, shown to be checked and completed.
        values["patient_contact.email"] = chosen.email or ""
        values["patient_contact.phone"] = chosen.phone or ""
    translate = translator(request, choose_language(request))
    ref = request.app[appkeys.REFERENCE_DATA]
    postal_code = (
        _text(values, "patient.postal_code")
        if values.get("patient_mode") == "new"
        else (chosen.postal_code if chosen is not None else None)
    )
    travel_from, usual_mode = travel_defaults(ref, postal_code)
    values.setdefault("patient_travel.mode", usual_mode)
    values.setdefault("patient_travel.would_travel", "yes")
    days: list[SlotDay] | None = None
    now = request.app[appkeys.CLOCK].now()
    local = LocalTime(choose_language(request), request.app[appkeys.SETTINGS].tz)
    query = slot_query(values, now, errors) if search else None
    if query is not None:
        try:
            slots = await booking.find_slots(
                request.app[appkeys.READ_DB],
                actor,
                request.app[appkeys.CLOCK],
                request.app[appkeys.SETTINGS],
                query,
            )
        except DomainError as exc:
            for name, message in from_domain(exc, rename=DOMAIN_FIELDS).fields.items():
                errors.add(name, message)
        else:
            days = slot_days(slots, local, values.get("starts_at"))

    return await render(
        request,
        "booking.html",
        {
            **choices,
            "values": values,
            "errors": errors,
            "slot_days": days,
            "relative_rows": range(RELATIVE_ROWS),
            "staff_rows": range(STAFF_ROWS),
            "timezone": request.app[appkeys.SETTINGS].timezone,
            "day_labels": json.dumps(window_day_labels(now, local), ensure_ascii=False),
            "no_invitation": no_invitation,
            "travel_from": travel_from,
            "travel_modes": [(v, translate(label)) for v, label in TRAVEL_MODES],
            "patient_places": {
                str(p.id): travel_defaults(ref, p.postal_code) for p in choices["patients"]
            },
            "existing_patient": existing_patient,
        },
        status=status,
    )


async def booking_page(request: web.Request) -> web.Response:
    actor = require_actor(request, *BOOKERS)
    values = form_values(request.query, SLOT_CHOICES)
    return await _page(request, actor, values, FormErrors(), search=bool(values))


async def booking_submit(request: web.Request) -> web.Response:
    actor = require_actor(request, *BOOKERS)
    form = await request.post()
    values = form_values(form)
    if form.get("intent") == "slots":
        return await _page(request, actor, values, FormErrors(), search=True)
    data, errors = validate_booking(values)
    status = 422
    if data is not None and values.get(CONFIRM_NO_INVITE) != "yes":
        patients = (await _choices(request, actor))["patients"]
        if missing := without_invitation(data, patients):
            # Asked before booking, not after: the GP may still add the addresses.
            errors.add(CONFIRM_NO_INVITE, N_("Some of those taking part get no invitation."))
            # A question, not a refusal: the page answers 200.
            return await _page(request, actor, values, errors, search=True, no_invitation=missing)
    if data is not None:
        try:
            consultation = await booking.book(
                request.app[appkeys.DB],
                actor,
                request.app[appkeys.CLOCK],
                request.app[appkeys.SETTINGS],
                data,
                reference=request.app[appkeys.REFERENCE_DATA],
            )
        except PatientExists as exc:
            patients = (await _choices(request, actor))["patients"]
            stored = next((p for p in patients if p.id == exc.patient_id), None)
            errors.add(UPDATE_PATIENT, N_("This patient is registered already. Check the details."))
            return await _page(request, actor, values, errors, search=True, existing_patient=stored)
        except DomainError as exc:
            errors = from_domain(exc, rename=DOMAIN_FIELDS)
            status = 409 if isinstance(exc, Conflict) else 422
        else:
            await flash(
                request, N_("The joint consultation is requested. The hospital will answer.")
            )
            return see_other(consultation_url(consultation.id))
    if "starts_at" in errors.fields:
        values.pop("starts_at", None)
    return await _page(request, actor, values, errors, search=True, status=status)


def setup_booking_routes(app: web.Application) -> None:
    app.router.add_get(BOOK, booking_page)
    app.router.add_post(BOOK, booking_submit)
