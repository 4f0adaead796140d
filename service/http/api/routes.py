"""JSON API handlers under /api/v1/: sessions, directory, slots, consultations, working hours.

Handlers only translate HTTP to domain calls and back; decisions live in the domain modules.
"""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.domain.clock import Clock
from service.domain.errors import InvalidInput
from service.domain.permissions import BOOKERS, CONSULTATION_READERS
from service.domain.schemas import (
    AcceptInput,
    BookingInput,
    CancelInput,
    ExceptionInput,
    LoginInput,
    TimeInput,
    WeekInput,
)
from service.domain.states import Action
from service.http import appkeys
from service.http.api import calendar
from service.http.api.echo import EchoOffer, end_echo, start_echo
from service.http.api.io import (
    parse_row_id,
    query_datetime,
    query_flag,
    query_int,
    query_number,
    read_body,
)
from service.http.api.spec import ApiRoute, RouteTable, openapi_document
from service.http.api.statistics import STATISTICS_QUERY, get_statistics, get_statistics_csv
from service.http.api.views import consultation_json, event_json, iso, slots_json
from service.http.auth import (
    csrf_exempt,
    csrf_token,
    current_actor,
    end_session,
    require_actor,
    start_session,
)
from service.http.remotes import client_address
from service.http.video import end_call
from service.settings import Settings
from service.storage.models import Consultation, WorkingHours
from service.usecases import accounts, booking, directory

API = "/api/v1"


class Ctx(NamedTuple):
    """What every consultation handler takes from the app."""

    db: async_sessionmaker[AsyncSession]
    clock: Clock
    settings: Settings


def _ctx(request: web.Request) -> Ctx:
    app = request.app
    return Ctx(app[appkeys.DB], app[appkeys.CLOCK], app[appkeys.SETTINGS])


def _consultation_id(request: web.Request) -> str:
    return request.match_info["consultation_id"]


def _consultation_response(c: Consultation, ctx: Ctx, *, status: int = 200) -> web.Response:
    return web.json_response(consultation_json(c, ctx.settings.tz), status=status)


# --- session ---------------------------------------------------------------------------------


async def get_session_info(request: web.Request) -> web.Response:
    actor = current_actor(request)
    body: dict[str, object] = {
        "authenticated": actor is not None,
        "csrf_token": await csrf_token(request),
    }
    if actor:
        body["user"] = {
            "id": actor.user_id,
            "name": actor.name,
            "role": actor.role,
            "language": actor.language,
        }
    return web.json_response(body)


@csrf_exempt  # JSON only: a cross-site form cannot send application/json without CORS.
async def login(request: web.Request) -> web.Response:
    data = await read_body(request, LoginInput)
    user = await accounts.authenticate(
        request.app[appkeys.DB],
        request.app[appkeys.THROTTLE],
        data.email,
        data.password,
        client_address(request),
        request.app[appkeys.PASSWORDS],
    )
    token = await start_session(request, user, second_factor=data.totp)
    return web.json_response(
        {
            "authenticated": True,
            "csrf_token": token,
            "user": {
                "id": user.id,
                "name": user.name,
                "role": user.role,
                "language": user.language,
            },
        }
    )


async def logout(request: web.Request) -> web.Response:
    await end_session(request)
    return web.Response(status=204)


# --- directory -------------------------------------------------------------------------------


async def list_departments(request: web.Request) -> web.Response:
    require_actor(request)
    rows = await directory.departments(request.app[appkeys.READ_DB])
    return web.json_response(
        [
            {
                "id": d.id,
                "name": d.name,
                "hospital": {"id": d.hospital.id, "code": d.hospital.code, "name": d.hospital.name},
            }
            for d in rows
        ]
    )


async def list_specialists(request: web.Request) -> web.Response:
    require_actor(request, *CONSULTATION_READERS)
    department_id = _path_int(request, "department_id")
    rows = await directory.specialists_of(request.app[appkeys.READ_DB], department_id)
    return web.json_response([{"id": u.id, "name": u.name} for u in rows])


async def list_patients(request: web.Request) -> web.Response:
    actor = require_actor(request, *BOOKERS)
    rows = await directory.patients_of(request.app[appkeys.READ_DB], actor)
    return web.json_response(
        [{"id": p.id, "name": p.name, "postal_code": p.postal_code} for p in rows]
    )


# --- slots and consultations -----------------------------------------------------------------


async def list_slots(request: web.Request) -> web.Response:
    actor = require_actor(request, *BOOKERS)
    settings, clock = request.app[appkeys.SETTINGS], request.app[appkeys.CLOCK]
    now = clock.now()
    # No free time lies in the past: an earlier `from` searches from now (and a date in year 1
    # cannot overflow the window's arithmetic).
    start = max(query_datetime(request, "from") or now, now)
    if start - now > timedelta(days=settings.booking_horizon_days):
        raise InvalidInput(
            f"from must be at most {settings.booking_horizon_days} days ahead.", field="from"
        )
    days = query_number(request, "days", 1, settings.booking_horizon_days, default=28)
    # Named as in the booking body and the booking form, so a client passes one name along.
    if "duration" in request.query:  # the name before v1 settled on the booking body's
        raise InvalidInput("Give the length as duration_minutes.", field="duration")
    duration = query_number(
        request, "duration_minutes", 10, 180, default=settings.default_duration_minutes
    )
    department_id = query_int(request, "department_id", required=True)
    assert department_id is not None
    slots = await booking.find_slots(
        request.app[appkeys.READ_DB],
        actor,
        clock,
        settings,
        booking.SlotQuery(
            department_id=department_id,
            specialist_id=query_int(request, "specialist_id"),
            patient_id=query_int(request, "patient_id"),
            window_start=start,
            window_end=start + timedelta(days=days),
            duration=timedelta(minutes=duration),
        ),
    )
    return web.json_response(slots_json(slots, settings.tz))


async def list_consultations(request: web.Request) -> web.Response:
    actor = require_actor(request)
    settings = request.app[appkeys.SETTINGS]
    rows = await booking.list_for(
        request.app[appkeys.DB],
        actor,
        request.app[appkeys.CLOCK],
        upcoming_only=query_flag(request, "upcoming"),
    )
    return web.json_response([consultation_json(c, settings.tz) for c in rows])


async def create_consultation(request: web.Request) -> web.Response:
    actor = require_actor(request)
    data = await read_body(request, BookingInput)
    ctx = _ctx(request)
    reference = request.app[appkeys.REFERENCE_DATA]
    c = await booking.book(ctx.db, actor, ctx.clock, ctx.settings, data, reference=reference)
    response = _consultation_response(c, ctx, status=201)
    response.headers["Location"] = f"{API}/consultations/{c.id}"
    return response


async def get_consultation(request: web.Request) -> web.Response:
    actor = require_actor(request)
    ctx = _ctx(request)
    c = await booking.read(ctx.db, actor, ctx.clock, _consultation_id(request))
    return _consultation_response(c, ctx)


async def get_history(request: web.Request) -> web.Response:
    actor = require_actor(request)
    ctx = _ctx(request)
    events = await booking.read_history(ctx.db, actor, ctx.clock, _consultation_id(request))
    return web.json_response([event_json(e, ctx.settings.tz) for e in events])


async def accept_consultation(request: web.Request) -> web.Response:
    actor = require_actor(request)
    data = await read_body(request, AcceptInput) if request.can_read_body else AcceptInput()
    ctx = _ctx(request)
    c = await booking.accept(
        ctx.db, actor, ctx.clock, ctx.settings, _consultation_id(request), data
    )
    return _consultation_response(c, ctx)


async def _change_time(request: web.Request, action: Action) -> web.Response:
    actor = require_actor(request)
    data = await read_body(request, TimeInput)
    ctx = _ctx(request)
    c = await booking.change_time(
        ctx.db, actor, ctx.clock, ctx.settings, _consultation_id(request), data, action
    )
    return _consultation_response(c, ctx)


async def propose_time(request: web.Request) -> web.Response:
    return await _change_time(request, Action.PROPOSE_TIME)


async def reschedule_consultation(request: web.Request) -> web.Response:
    return await _change_time(request, Action.RESCHEDULE)


async def cancel_consultation(request: web.Request) -> web.Response:
    actor = require_actor(request)
    data = await read_body(request, CancelInput) if request.can_read_body else CancelInput()
    ctx = _ctx(request)
    c = await booking.cancel(
        ctx.db, actor, ctx.clock, ctx.settings, _consultation_id(request), data
    )
    # Its room is closed now: whoever is still in the call is told and let go.
    await end_call(request.app, c.room_id, "cancelled")
    return _consultation_response(c, ctx)


# --- working hours ---------------------------------------------------------------------------


async def get_working_hours(request: web.Request) -> web.Response:
    actor = require_actor(request)
    rows = await accounts.week_of(request.app[appkeys.DB], actor)
    return web.json_response([_hours_json(h) for h in rows])


async def put_working_hours(request: web.Request) -> web.Response:
    actor = require_actor(request)
    data = await read_body(request, WeekInput)
    rows = await accounts.set_week(request.app[appkeys.DB], actor, data)
    return web.json_response([_hours_json(h) for h in rows])


def _hours_json(h: WorkingHours) -> dict[str, object]:
    return {
        "weekday": h.weekday,
        "start": h.start_time.strftime("%H:%M"),
        "end": h.end_time.strftime("%H:%M"),
    }


async def list_exceptions(request: web.Request) -> web.Response:
    actor = require_actor(request)
    tz = request.app[appkeys.SETTINGS].tz
    rows = await accounts.exceptions(request.app[appkeys.DB], actor)
    return web.json_response(
        [
            {
                "id": x.id,
                "starts_at": iso(x.starts_at, tz),
                "ends_at": iso(x.ends_at, tz),
                "reason": x.reason,
            }
            for x in rows
        ]
    )


async def add_exception(request: web.Request) -> web.Response:
    actor = require_actor(request)
    tz = request.app[appkeys.SETTINGS].tz
    data = await read_body(request, ExceptionInput)
    x = await accounts.add_exception(
        request.app[appkeys.DB],
        actor,
        request.app[appkeys.CLOCK],
        data,
        horizon=timedelta(days=request.app[appkeys.SETTINGS].booking_horizon_days),
    )
    return web.json_response(
        {
            "id": x.id,
            "starts_at": iso(x.starts_at, tz),
            "ends_at": iso(x.ends_at, tz),
            "reason": x.reason,
        },
        status=201,
    )


async def delete_exception(request: web.Request) -> web.Response:
    actor = require_actor(request)
    await accounts.remove_exception(
        request.app[appkeys.DB], actor, _path_int(request, "exception_id")
    )
    return web.Response(status=204)


def _path_int(request: web.Request, name: str) -> int:
    return parse_row_id(request.match_info[name], name)


# --- the table -------------------------------------------------------------------------------

C = f"{API}/consultations/{{consultation_id}}"


def route_table() -> RouteTable:
    t = RouteTable()
    for r in [
        ApiRoute(
            "GET",
            f"{API}/session",
            get_session_info,
            "Who is logged in, and the CSRF token",
            tag="session",
        ),
        ApiRoute(
            "POST",
            f"{API}/session",
            login,
            "Log in",
            body=LoginInput,
            tag="session",
            responses={200: "Logged in", 401: "Wrong e-mail or password", 429: "Too many attempts"},
        ),
        ApiRoute(
            "DELETE",
            f"{API}/session",
            logout,
            "Log out",
            tag="session",
            responses={204: "Logged out"},
        ),
        ApiRoute(
            "GET", f"{API}/departments", list_departments, "Hospital departments", tag="directory"
        ),
        ApiRoute(
            "GET",
            f"{API}/departments/{{department_id}}/specialists",
            list_specialists,
            "Specialists of a department",
            tag="directory",
        ),
        ApiRoute(
            "GET", f"{API}/patients", list_patients, "The GP office's patients", tag="directory"
        ),
        ApiRoute(
            "GET",
            f"{API}/slots",
            list_slots,
            "Free slots common to the GP, the specialist and the patient",
            query=(
                ("department_id", "integer", True, "department"),
                ("specialist_id", "integer", False, "named specialist"),
                ("patient_id", "integer", False, "the patient"),
                ("from", "string", False, "window start (ISO 8601 with offset)"),
                ("days", "integer", False, "window length in days"),
                ("duration_minutes", "integer", False, "minutes, 10-180 (default 30)"),
            ),
        ),
        ApiRoute(
            "GET",
            f"{API}/consultations",
            list_consultations,
            "Consultations visible to the caller",
            query=(("upcoming", "boolean", False, "only those not yet over"),),
        ),
        ApiRoute(
            "POST",
            f"{API}/consultations",
            create_consultation,
            "Book a joint consultation",
            body=BookingInput,
            responses={201: "Booked (requested)", 409: "Time taken", 422: "Invalid input"},
        ),
        ApiRoute("GET", C, get_consultation, "One consultation"),
        ApiRoute("GET", f"{C}/history", get_history, "Changes to a consultation"),
        ApiRoute(
            "POST",
            f"{C}/accept",
            accept_consultation,
            "Accept the request or proposal",
            body=AcceptInput,
        ),
        ApiRoute(
            "POST",
            f"{C}/propose",
            propose_time,
            "Hospital side proposes another time",
            body=TimeInput,
        ),
        ApiRoute(
            "POST",
            f"{C}/reschedule",
            reschedule_consultation,
            "GP moves the consultation",
            body=TimeInput,
        ),
        ApiRoute("POST", f"{C}/cancel", cancel_consultation, "Cancel", body=CancelInput),
        ApiRoute(
            "GET",
            f"{C}/invite.ics",
            calendar.download_invite,
            "The consultation as an iCalendar file",
            responses={200: "text/calendar"},
        ),
        ApiRoute(
            "GET",
            f"{C}/mails",
            calendar.list_mails,
            "E-mails about the consultation: sent, waiting and scheduled",
        ),
        ApiRoute(
            "GET",
            f"{API}/me/calendar-feed",
            calendar.get_calendar_feed,
            "Whether I have a calendar feed",
            tag="calendar",
        ),
        ApiRoute(
            "POST",
            f"{API}/me/calendar-feed",
            calendar.create_calendar_feed,
            "Create my calendar feed (replaces the old URL; the new URL is shown once)",
            tag="calendar",
            responses={201: "Created"},
        ),
        ApiRoute(
            "DELETE",
            f"{API}/me/calendar-feed",
            calendar.revoke_calendar_feed,
            "Revoke my calendar feed",
            tag="calendar",
            responses={204: "Revoked"},
        ),
        ApiRoute(
            "GET",
            f"{API}/me/working-hours",
            get_working_hours,
            "My weekly working hours",
            tag="calendar",
        ),
        ApiRoute(
            "PUT",
            f"{API}/me/working-hours",
            put_working_hours,
            "Replace my weekly working hours",
            body=WeekInput,
            tag="calendar",
        ),
        ApiRoute("GET", f"{API}/me/exceptions", list_exceptions, "My absences", tag="calendar"),
        ApiRoute(
            "POST",
            f"{API}/me/exceptions",
            add_exception,
            "Add an absence",
            body=ExceptionInput,
            tag="calendar",
            responses={201: "Added"},
        ),
        ApiRoute(
            "DELETE",
            f"{API}/me/exceptions/{{exception_id}}",
            delete_exception,
            "Remove an absence",
            tag="calendar",
            responses={204: "Removed"},
        ),
        ApiRoute(
            "POST",
            f"{API}/echo",
            start_echo,
            "Pre-call check: answer an offer with an echo peer that returns your own media",
            body=EchoOffer,
            tag="video",
            responses={
                201: "Answered: {id, type, sdp}",
                422: "Not a usable offer",
                503: "Every echo session is in use",
            },
        ),
        ApiRoute(
            "DELETE",
            f"{API}/echo/{{session_id}}",
            end_echo,
            "End a pre-call check's echo session",
            tag="video",
            responses={204: "Ended", 404: "No such session"},
        ),
        ApiRoute(
            "GET",
            f"{API}/statistics",
            get_statistics,
            "Statistics for evaluators: use, travel avoided, survey (every count perturbed)",
            query=STATISTICS_QUERY,
            tag="statistics",
            responses={200: "Statistics", 403: "Not an evaluator", 422: "Invalid filter"},
        ),
        ApiRoute(
            "GET",
            f"{API}/statistics.csv",
            get_statistics_csv,
            "The same statistics as CSV, one figure per line",
            query=STATISTICS_QUERY,
            tag="statistics",
            responses={200: "CSV", 403: "Not an evaluator", 422: "Invalid filter"},
        ),
    ]:
        t.add(r)
    return t


def setup_api(app: web.Application) -> RouteTable:
    table = route_table()
    table.register(app)
    document = openapi_document(table, version="0.1.0")

    async def openapi_json(_request: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get("/api/openapi.json", openapi_json)
    return table
