"""Input shapes shared by the JSON API and the web forms, validated with pydantic.

One definition per input keeps the API, the pages and the OpenAPI document in step. Names and
free text are checked here, once, at the edge (`Name`, `FreeText`): what booking accepts, every
later step (confirmation, mail, calendar) can carry. A name stored before that rule existed is
made printable where it is shown (`printable_name`), never refused again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, field_validator

from service.domain.errors import InvalidInput
from service.domain.fnr import validate_fnr

# Ids are PostgreSQL `integer` columns: a larger number can name no row, and the drivers refuse
# to even send it (asyncpg: out of int32 range; sqlite3: OverflowError past 64 bits).
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
ROW_ID_RULE = f"a whole number between 1 and {MAX_ROW_ID}"


def as_whole_number(text: str, low: int, high: int) -> int | None:
    """`text` (from a path, query string or form) as a whole number from low to high, else None.

    Only ASCII digits: `int` also reads signs, spaces, underscores and other scripts' digits,
    and `str.isdigit` lets through characters such as "²" that `int` then refuses.
    """
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        return None
    number = int(text)
    return number if low <= number <= high else None


def as_row_id(text: str) -> int | None:
    """`text` as an id that can name a row, else None."""
    return as_whole_number(text, 1, MAX_ROW_ID)


Language = Literal["nn", "nb", "en"]
PatientGroup = Literal[
    "children_youth", "mental_health_addiction", "frail_elderly", "multiple_chronic", "other"
]
PatientLocation = Literal["home", "gp_office", "institution"]
Kind = Literal["joint", "guidance"]
TravelMode = Literal["car", "bus", "boat", "taxi_pasientreiser", "ambulance"]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a time zone offset, e.g. 2026-03-30T09:00:00+02:00")
    return value


def is_printable_name(value: str) -> bool:
    """The rule for a person's name: some text, and nothing a mail header or calendar line
    could break on or a reader could not see (line breaks, tabs, control characters, zero-width
    and bidirectional formatting characters: whatever `str.isprintable` refuses)."""
    return bool(value.strip()) and value.isprintable()


def is_printable_text(value: str) -> bool:
    """The rule for free text: as for names, but line breaks and tabs are allowed."""
    return all(c.isprintable() or c in _TEXT_LAYOUT for c in value)


_TEXT_LAYOUT = frozenset("\r\n\t")
NAME_RULE = "must be printable text: no line breaks, tabs, control or invisible characters"
TEXT_RULE = "must be printable text: no control or invisible characters"


def printable_name(value: str) -> str:
    """A stored name as mails and calendars can carry it: each character the name rule refuses
    becomes a space. For names stored before the rule, so their consultation never gets stuck."""
    shown = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return shown or "-"


def _name(value: str) -> str:
    if not is_printable_name(value):
        raise ValueError(NAME_RULE)
    return value


def _text(value: str) -> str:
    if not is_printable_text(value):
        raise ValueError(TEXT_RULE)
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
PostalCode = Annotated[str, Field(pattern=r"^\d{4}$", description="Norwegian postal code")]
Name = Annotated[
    str,
    Field(min_length=1, max_length=200, description=f"a person's name; {NAME_RULE}"),
    AfterValidator(_name),
]
# Free text (line breaks allowed, control and invisible characters not), with its length:
# `Annotated[str, Field(max_length=…, description=TEXT_RULE), PRINTABLE_TEXT]`.
PRINTABLE_TEXT = AfterValidator(_text)


Phone = Annotated[str, Field(pattern=r"^\+?[0-9 ]{5,20}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL text cannot hold NUL: refused here, not as a 500 from the database.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class LoginInput(Strict):
    email: Annotated[str, Field(min_length=3, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=1000)]
    # The authenticator app's code: required for password sign-in in production mode.
    totp: Annotated[str | None, Field(max_length=12)] = None


class PatientTravelInput(Strict):
    """How the patient would have come to the hospital had the consultation not been by video."""

    would_travel: bool = Field(
        default=True, description="the patient would otherwise have travelled to the hospital"
    )
    mode: TravelMode = Field(default="car", description="the usual way of travelling")
    escort: bool = Field(
        default=False,
        description="an escort (e.g. home-care staff) would have come along, paid by Pasientreiser",
    )
    works: bool = Field(
        default=False, description="the patient would have lost working hours to the trip"
    )


class RelativeTravelInput(Strict):
    """Whether a relative would have travelled too; by default they would not (the GP says)."""

    would_travel: bool = Field(
        default=False, description="this relative would otherwise have travelled to the hospital"
    )
    mode: TravelMode = Field(default="car", description="the usual way of travelling")
    escort: bool = Field(
        default=False,
        description="this relative would have come as the patient's escort (ledsager)",
    )
    works: bool = Field(
        default=False, description="this relative would have lost working hours to the trip"
    )


class PersonInput(Strict):
    """A relative, interpreter or municipal staff member taking part.

    `travel` counts only for relatives; without a postal code a relative is taken to live where
    the patient lives.
    """

    name: Name
    email: EmailStr | None = None
    phone: Phone | None = None
    language: Language = "nn"
    postal_code: PostalCode | None = None
    travel: RelativeTravelInput = Field(default_factory=RelativeTravelInput)


class PatientInput(Strict):
    name: Name
    email: EmailStr | None = None
    phone: Phone | None = None
    postal_code: PostalCode
    fnr: str | None = Field(default=None, description="fødselsnummer or D-number (optional)")
    language: Language = "nn"

    @field_validator("fnr")
    @classmethod
    def _fnr(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            return validate_fnr(value)
        except InvalidInput as exc:
            # As a ValueError, pydantic reports it at its full path (patient.fnr).
            raise ValueError(exc.detail) from exc


class PatientContactInput(Strict):
    """New contact details for a registered patient (`patient_id`); a field left out is kept."""

    email: EmailStr | None = None
    phone: Phone | None = None


class BookingInput(Strict):
    kind: Kind = "joint"
    department_id: RowId
    specialist_id: RowId | None = None
    patient_id: RowId | None = None
    patient_contact: PatientContactInput | None = Field(
        default=None, description="with patient_id: the e-mail address or mobile to store"
    )
    patient: PatientInput | None = None
    update_existing_patient: bool = Field(
        default=False,
        description=(
            "with patient: if the fødselsnummer is a registered patient, update their details;"
            " without it such a booking is refused with 409 naming the patient's id"
        ),
    )
    relatives: Annotated[list[PersonInput], Field(max_length=6)] = []
    interpreter: PersonInput | None = None
    municipal_staff: Annotated[list[PersonInput], Field(max_length=4)] = []
    patient_group: PatientGroup
    purpose: Annotated[str, Field(max_length=500, description=TEXT_RULE), PRINTABLE_TEXT] = ""
    starts_at: AwareDatetime
    duration_minutes: Annotated[int, Field(ge=10, le=180)] = 30
    patient_location: PatientLocation = "home"
    patient_travel: PatientTravelInput = Field(default_factory=PatientTravelInput)


class TimeInput(Strict):
    starts_at: AwareDatetime
    duration_minutes: Annotated[int | None, Field(ge=10, le=180)] = None


class AcceptInput(Strict):
    specialist_id: RowId | None = None


class CancelInput(Strict):
    reason: Annotated[str, Field(max_length=200, description=TEXT_RULE), PRINTABLE_TEXT] = ""


class WorkingHoursInput(Strict):
    weekday: Annotated[int, Field(ge=0, le=6)]
    start: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
    end: Annotated[str, Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")]  # 24:00: end of day


class WeekInput(Strict):
    hours: Annotated[list[WorkingHoursInput], Field(max_length=28)]


# How far an absence may reach: back to a year ago, and a year past the booking horizon.
ABSENCE_PAST = timedelta(days=365)
ABSENCE_BEYOND_HORIZON = timedelta(days=365)


class ExceptionInput(Strict):
    """An absence (holiday, leave, course): nobody can book the clinician while it lasts."""

    starts_at: AwareDatetime = Field(
        description="the start: before the end, and at most 365 days ago"
    )
    ends_at: AwareDatetime = Field(
        description="the end: in the future, and at most 365 days past the booking horizon "
        "(SAMKONS_BOOKING_HORIZON_DAYS, 56 days by default) from now"
    )
    reason: Literal["holiday", "leave", "course", "other"] = "leave"


def check_absence_span(data: ExceptionInput, now: datetime, horizon: timedelta) -> None:
    """Refuse an absence that starts more than a year ago or ends more than a year past the
    booking horizon: such dates are typing mistakes (year 0214, 4689), and nothing can be
    booked there to be blocked anyway."""
    if data.starts_at < now - ABSENCE_PAST:
        raise InvalidInput("An absence can start at most a year ago.", field="starts_at")
    if data.ends_at > now + horizon + ABSENCE_BEYOND_HORIZON:
        raise InvalidInput(
            f"An absence can end at most a year past the booking horizon "
            f"({horizon.days} days from now).",
            field="ends_at",
        )


YesNoUnknown = Literal["yes", "no", "unknown"]


class SurveyAnswerInput(Strict):
    """One participant's answers after a consultation (the public survey page)."""

    satisfaction: Annotated[int, Field(ge=1, le=5, description="1 (poor) to 5 (very good)")]
    would_travel: YesNoUnknown = Field(
        default="unknown", description="would the patient otherwise have travelled to the hospital?"
    )
    physical_visit_needed: YesNoUnknown = Field(
        default="unknown", description="was a physical visit still needed afterwards?"
    )
    free_text: Annotated[str, Field(max_length=2000, description=TEXT_RULE), PRINTABLE_TEXT] = ""
