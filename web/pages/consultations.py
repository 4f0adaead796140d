"""Consultation pages: the list («Mine samkonsultasjonar»), one consultation, and its actions.

The actions offered are the ones the state machine allows this reader now; each form posts to
the same domain function the API uses, and a refusal comes back as the page with a message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import MultiDictProxy
from pydantic import ValidationError

from service.domain import permissions
from service.domain.actor import Actor
from service.domain.calls import join_window, room_refusal
from service.domain.errors import Conflict, DomainError, NotFound
from service.domain.i18n import N_
from service.domain.permissions import CONSULTATION_READERS, allowed_actions
from service.domain.roles import ACCOUNT_PARTICIPANTS
from service.domain.schemas import AcceptInput, CancelInput, TimeInput
from service.domain.states import Action, Side
from service.http import appkeys
from service.http.auth import require_actor
from service.storage.models import Consultation, ConsultationEvent, Department, User
from service.usecases import booking, directory
from service.usecases.mail_log import mails_for
from web.pages import labels
from web.pages.booking import DURATIONS, SLOT_WINDOW, SlotDay, slot_days
from web.pages.context import flash, render
from web.pages.form_errors import FormErrors, from_domain, from_validation
from web.pages.i18n import LocalTime, choose_language
from web.pages.navigation import CONSULTATIONS, consultation_url, see_other

Form = MultiDictProxy[Any]
Change = Callable[[Actor, str, Form], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Names:
    """Display names for the ids a consultation refers to."""

    users: dict[int, User]
    patients: dict[int, str]
    departments: dict[int, Department]

    def user(self, user_id: int | None) -> str | None:
        user = self.users.get(user_id) if user_id is not None else None
        return user.name if user else None

    def department(self, department_id: int) -> str:
        d = self.departments.get(department_id)
        return f"{d.name}, {d.hospital.name}" if d else ""


@dataclass(frozen=True, slots=True)
class Summary:
    id: str
    url: str
    starts_at: datetime
    ends_at: datetime
    status: str
    awaiting: str | None
    kind: str
    department: str
    gp: str | None
    specialist: str | None
    patient: str | None
    awaits_reader: bool


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    who: str | None
    action: str
    status: str
    starts_at: datetime
    ends_at: datetime


async def _names(
    request: web.Request, consultations: Sequence[Consultation], extra_users: Iterable[int] = ()
) -> Names:
    user_ids = {c.gp_id for c in consultations} | {
        c.specialist_id for c in consultations if c.specialist_id is not None
    }
    patient_ids = {c.patient_id for c in consultations if c.patient_id is not None}
    found = await directory.names(
        request.app[appkeys.READ_DB], user_ids | set(extra_users), patient_ids
    )
    return Names(found.users, {k: p.name for k, p in found.patients.items()}, found.departments)


def reader_side(actor: Actor) -> Side:
    return permissions.side_of(actor)


def summary(c: Consultation, names: Names, actor: Actor) -> Summary:
    return Summary(
        id=c.id,
        url=consultation_url(c.id),
        starts_at=c.starts_at,
        ends_at=c.ends_at,
        status=c.status,
        awaiting=c.awaiting,
        kind=c.kind,
        department=names.department(c.department_id),
        gp=names.user(c.gp_id),
        specialist=names.user(c.specialist_id),
        patient=names.patients.get(c.patient_id) if c.patient_id is not None else None,
        awaits_reader=c.awaiting == reader_side(actor),
    )


def split_upcoming(
    consultations: Sequence[Consultation], now: datetime
) -> tuple[list[Consultation], list[Consultation]]:
    """Coming and still active ones first (soonest first); the rest newest first."""
    upcoming = [c for c in consultations if c.ends_at > now and booking.is_active(c)]
    earlier = [c for c in consultations if c not in upcoming]
    return upcoming, sorted(earlier, key=lambda c: c.starts_at, reverse=True)


# --- the list ----------------------------------------------------------------------------------

EARLIER_SHOWN = 20


async def consultations_page(request: web.Request) -> web.Response:
    actor = require_actor(request, *CONSULTATION_READERS)
    clock = request.app[appkeys.CLOCK]
    show_all = request.query.get("tidlegare") == "alle"
    view = await booking.overview(
        request.app[appkeys.DB], actor, clock, earlier_limit=1000 if show_all else EARLIER_SHOWN
    )
    rows = view.coming + view.earlier
    names = await _names(request, rows)
    upcoming, earlier = split_upcoming(rows, clock.now())
    return await render(
        request,
        "consultations.html",
        {
            "upcoming": [summary(c, names, actor) for c in upcoming],
            "earlier": [summary(c, names, actor) for c in earlier],
            "more_earlier": view.more_earlier,
        },
    )


# --- one consultation --------------------------------------------------------------------------


async def _reschedule_slots(
    request: web.Request, actor: Actor, c: Consultation
) -> list[SlotDay] | None:
    """Free times a GP may move the consultation to (None when the search is refused)."""
    app = request.app
    now = app[appkeys.CLOCK].now()
    query = booking.SlotQuery(
        department_id=c.department_id,
        specialist_id=c.specialist_id,
        patient_id=c.patient_id if c.kind == "joint" else None,
        window_start=now,
        window_end=now + SLOT_WINDOW,
        duration=c.ends_at - c.starts_at,
        excluding_consultation=c.id,
    )
    try:
        slots = await booking.find_slots(
            app[appkeys.READ_DB], actor, app[appkeys.CLOCK], app[appkeys.SETTINGS], query
        )
    except DomainError:
        return None
    local = LocalTime(choose_language(request), app[appkeys.SETTINGS].tz)
    # Its own time is free of course (its held times do not count), but no move at all.
    others = [slot for slot in slots if slot.start != c.starts_at]
    return slot_days(others, local, None, open_days=0)


async def _detail_page(
    request: web.Request,
    actor: Actor,
    consultation_id: str,
    *,
    failed_form: str | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> web.Response:
    app = request.app
    db, clock = app[appkeys.DB], app[appkeys.CLOCK]
    c = await booking.read(db, actor, clock, consultation_id)
    events = await booking.read_history(db, actor, clock, consultation_id)
    names = await _names(request, [c], (e.actor_id for e in events if e.actor_id is not None))
    actions = allowed_actions(c, actor)
    choose_specialist: list[User] = []
    if Action.ACCEPT in actions and c.specialist_id is None and actor.role == "coordinator":
        choose_specialist = await directory.specialists_of(app[appkeys.READ_DB], c.department_id)
    slots = await _reschedule_slots(request, actor, c) if Action.RESCHEDULE in actions else None
    mails = await mails_for(db, c)
    info = summary(c, names, actor)
    refusal = room_refusal(c.status, c.starts_at, c.ends_at, clock.now())
    return await render(
        request,
        "consultation.html",
        {
            "c": c,
            "summary": info,
            "participants": taking_part(c, info.specialist),
            "history": [_history_entry(e, names) for e in events],
            "actions": {str(a) for a in actions},
            "specialist_options": [(u.id, u.name) for u in choose_specialist],
            "reschedule_days": slots,
            "durations": DURATIONS,
            "duration_minutes": int((c.ends_at - c.starts_at).total_seconds() // 60),
            "failed_form": failed_form,
            "errors": errors or FormErrors(),
            "no_errors": FormErrors(),
            "now": clock.now(),
            "mails": mails,
            # The video call: open now, opening later, or nothing to join (over, cancelled).
            "call": {
                "state": refusal or "open",
                "url": f"{info.url}/video",
                "opens_at": join_window(c.starts_at, c.ends_at)[0],
            },
        },
        status=status,
    )


@dataclass(frozen=True, slots=True)
class Person:
    """One line under "Taking part"."""

    name: str
    role: str
    email: str | None = None
    phone: str | None = None

    @property
    def uninvited(self) -> bool:
        """A guest with no address: no invitation reaches them, so no link either."""
        return self.role not in ACCOUNT_PARTICIPANTS and not self.email


def taking_part(c: Consultation, specialist_name: str | None) -> list[Person]:
    """The participants in role order, the specialist among them.

    Booking keeps no participant row for the specialist: their account, named by
    `specialist_id`, is the participant (as for the invitations).
    """
    people = [Person(p.name, p.role, p.email, p.phone) for p in c.participants]
    if specialist_name is not None and not any(p.role == "specialist" for p in people):
        people.append(Person(specialist_name, "specialist"))
    return sorted(people, key=_role_order)


def _role_order(p: Person) -> int:
    return list(labels.PARTICIPANT_ROLE).index(p.role) if p.role in labels.PARTICIPANT_ROLE else 99


def _history_entry(e: ConsultationEvent, names: Names) -> HistoryEntry:
    return HistoryEntry(e.at, names.user(e.actor_id), e.action, e.status, e.starts_at, e.ends_at)


async def consultation_page(request: web.Request) -> web.Response:
    actor = require_actor(request, *CONSULTATION_READERS)
    return await _detail_page(request, actor, request.match_info["consultation_id"])


# --- actions -----------------------------------------------------------------------------------


async def _act(request: web.Request, form_name: str, success: str, change: Change) -> web.Response:
    """Run one change; on success go back to the page with a message, else show why not."""
    actor = require_actor(request, *CONSULTATION_READERS)
    consultation_id = request.match_info["consultation_id"]
    form = await request.post()
    # The time is chosen from the free slots (`starts_at`) or typed (`starts_at_local`): an
    # error about it points at the field this form has.
    time_field = "starts_at_local" if "starts_at_local" in form else "starts_at"
    rename = {"starts_at": time_field, "ends_at": time_field}
    try:
        await change(actor, consultation_id, form)
    except NotFound:
        raise
    except ValidationError as exc:
        return await _detail_page(
            request,
            actor,
            consultation_id,
            failed_form=form_name,
            errors=from_validation(exc, rename=rename),
            status=422,
        )
    except DomainError as exc:
        return await _detail_page(
            request,
            actor,
            consultation_id,
            failed_form=form_name,
            errors=from_domain(exc, rename=rename),
            status=409 if isinstance(exc, Conflict) else 422,
        )
    await flash(request, success)
    return see_other(consultation_url(consultation_id))


def _optional(form: Form, name: str) -> str | None:
    value = form.get(name)
    return value.strip() or None if isinstance(value, str) else None


async def accept_submit(request: web.Request) -> web.Response:
    app = request.app

    async def change(actor: Actor, consultation_id: str, form: Form) -> None:
        data = AcceptInput.model_validate({"specialist_id": _optional(form, "specialist_id")})
        await booking.accept(
            app[appkeys.DB], actor, app[appkeys.CLOCK], app[appkeys.SETTINGS], consultation_id, data
        )

    return await _act(request, "accept", N_("The consultation is confirmed."), change)


def time_input(form: Form, tz: ZoneInfo) -> TimeInput:
    """A new time from a chosen free slot (ISO with offset) or a datetime-local field."""
    starts_at: str | datetime | None = _optional(form, "starts_at")
    local = _optional(form, "starts_at_local")
    if starts_at is None and local is not None:
        try:
            starts_at = datetime.fromisoformat(local).replace(tzinfo=tz)
        except ValueError:
            starts_at = local  # pydantic reports it as a readable error at starts_at
    return TimeInput.model_validate(
        {"starts_at": starts_at, "duration_minutes": _optional(form, "duration_minutes")}
    )


async def new_time_submit(request: web.Request) -> web.Response:
    app = request.app

    async def change(actor: Actor, consultation_id: str, form: Form) -> None:
        action = Action.PROPOSE_TIME if reader_side(actor) == Side.HOSPITAL else Action.RESCHEDULE
        data = time_input(form, app[appkeys.SETTINGS].tz)
        await booking.change_time(
            app[appkeys.DB],
            actor,
            app[appkeys.CLOCK],
            app[appkeys.SETTINGS],
            consultation_id,
            data,
            action,
        )

    return await _act(request, "new_time", N_("The new time is sent for approval."), change)


async def cancel_page(request: web.Request) -> web.Response:
    actor = require_actor(request, *CONSULTATION_READERS)
    app = request.app
    c = await booking.read(
        app[appkeys.DB], actor, app[appkeys.CLOCK], request.match_info["consultation_id"]
    )
    names = await _names(request, [c])
    if Action.CANCEL not in allowed_actions(c, actor):
        await flash(request, N_("This consultation can no longer be cancelled."))
        return see_other(consultation_url(c.id))
    return await render(request, "cancel.html", {"summary": summary(c, names, actor)})


async def cancel_submit(request: web.Request) -> web.Response:
    app = request.app

    async def change(actor: Actor, consultation_id: str, form: Form) -> None:
        await booking.cancel(
            app[appkeys.DB],
            actor,
            app[appkeys.CLOCK],
            app[appkeys.SETTINGS],
            consultation_id,
            CancelInput(),
        )

    return await _act(request, "cancel", N_("The consultation is cancelled."), change)


def setup_consultation_routes(app: web.Application) -> None:
    one = CONSULTATIONS + "/{consultation_id}"
    app.router.add_get(CONSULTATIONS, consultations_page)
    app.router.add_get(one, consultation_page)
    app.router.add_post(one + "/godta", accept_submit)
    app.router.add_post(one + "/ny-tid", new_time_submit)
    app.router.add_get(one + "/avlys", cancel_page)
    app.router.add_post(one + "/avlys", cancel_submit)
