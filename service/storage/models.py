"""SQLAlchemy models: every table of samkons, in one place.

Personal data is confined to `patients` and `participants` (names, contact details) and the
consultation's short purpose; retention erases those columns and keeps the anonymous facts that
statistics need. Fødselsnummer is never stored, only a keyed hash used to recognise a patient.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Time,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from service.domain.statistics_cellkey import new_record_key

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ACCOUNT_ROLES = ("gp", "specialist", "coordinator", "evaluator", "admin")
PARTICIPANT_ROLES = ("gp", "specialist", "patient", "relative", "interpreter", "municipal_staff")
CONSULTATION_KINDS = ("joint", "guidance")
STATUSES = ("requested", "confirmed", "in_progress", "completed", "cancelled", "no_show")
SIDES = ("gp_side", "hospital_side")
PATIENT_GROUPS = (
    "children_youth",
    "mental_health_addiction",
    "frail_elderly",
    "multiple_chronic",
    "other",
)
PATIENT_LOCATIONS = ("home", "gp_office", "institution")
TRAVEL_MODES = ("car", "bus", "boat", "taxi_pasientreiser", "ambulance")
LANGUAGES = ("nn", "nb", "en")
MAIL_KINDS = ("invite", "update", "cancel", "reminder", "survey")
MAIL_STATUSES = ("pending", "sending", "sent", "failed", "superseded")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python on every database.

    SQLite has no time zones, so values are stored as naive UTC in SQLAlchemy's fixed-width text
    format; that keeps string comparison equal to time comparison, which the overlap trigger uses.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), time: Time()}


class Hospital(Base):
    __tablename__ = "hospitals"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Department(Base):
    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    name: Mapped[str] = mapped_column(String(200))
    hospital: Mapped[Hospital] = relationship(lazy="raise_on_sql")


class GpOffice(Base):
    __tablename__ = "gp_offices"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    municipality_number: Mapped[str] = mapped_column(String(4))


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", ACCOUNT_ROLES), name="role"),
        CheckConstraint(_in("language", LANGUAGES), name="language"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    gp_office_id: Mapped[int | None] = mapped_column(ForeignKey("gp_offices.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    language: Mapped[str] = mapped_column(String(2), default="nn")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The secret of the clinician's calendar feed (SHA-256 of it); None when no feed is active.
    calendar_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]


class WorkingHours(Base):
    """A weekly recurring working period, in local wall-clock time."""

    __tablename__ = "working_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("start_time < end_time", name="order"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[time]
    end_time: Mapped[time]


class AvailabilityException(Base):
    """Time a clinician is away (holiday, leave, course)."""

    __tablename__ = "availability_exceptions"
    __table_args__ = (CheckConstraint("starts_at < ends_at", name="order"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(40), default="leave")


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (CheckConstraint(_in("language", LANGUAGES), name="language"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    gp_office_id: Mapped[int] = mapped_column(ForeignKey("gp_offices.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    postal_code: Mapped[str | None] = mapped_column(String(4))
    fnr_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    language: Mapped[str] = mapped_column(String(2), default="nn")
    created_at: Mapped[datetime]


class Consultation(Base):
    __tablename__ = "consultations"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("kind", CONSULTATION_KINDS), name="kind"),
        CheckConstraint(_in("awaiting", SIDES), name="awaiting"),
        CheckConstraint(_in("patient_group", PATIENT_GROUPS), name="patient_group"),
        CheckConstraint(_in("patient_location", PATIENT_LOCATIONS), name="patient_location"),
        CheckConstraint("starts_at < ends_at", name="order"),
        Index("ix_consultations_gp_starts", "gp_id", "starts_at"),
        Index("ix_consultations_department_starts", "department_id", "starts_at"),
        Index("ix_consultations_starts", "starts_at"),
        # Statistics of completed consultations over a period (durations, travel).
        Index("ix_consultations_status_starts", "status", "starts_at"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    awaiting: Mapped[str | None] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(Integer, default=0)
    gp_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    specialist_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    booked_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    patient_present: Mapped[bool] = mapped_column(Boolean, default=True)
    patient_group: Mapped[str] = mapped_column(String(40))
    patient_location: Mapped[str] = mapped_column(String(20), default="home")
    purpose: Mapped[str | None] = mapped_column(String(500))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    # Anonymous facts kept after retention erases personal data (statistics need them).
    municipality_number: Mapped[str | None] = mapped_column(String(4))
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    # Travel inputs without anyone's postal code (see service/domain/travel/keys.py), and the
    # patient's own survey answer about travelling, which corrects the booking's assumption.
    travel_key: Mapped[str | None] = mapped_column(String(400))
    patient_travel_confirmed: Mapped[bool | None]
    relatives_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    interpreters_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    municipal_staff_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    actual_started_at: Mapped[datetime | None]
    actual_ended_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The statistics' cell key (service/domain/statistics_cellkey.py): random, set at creation.
    record_key: Mapped[int] = mapped_column(Integer, default=new_record_key)

    participants: Mapped[list[Participant]] = relationship(
        lazy="raise_on_sql", order_by="Participant.id", back_populates="consultation"
    )


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (
        CheckConstraint(_in("role", PARTICIPANT_ROLES), name="role"),
        CheckConstraint(_in("language", LANGUAGES), name="language"),
        CheckConstraint(
            "travel_mode IS NULL OR " + _in("travel_mode", TRAVEL_MODES), name="travel_mode"
        ),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    consultation_id: Mapped[str] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(2), default="nn")
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    postal_code: Mapped[str | None] = mapped_column(String(4))
    # Travel avoided: would they otherwise have travelled to the hospital, how, as or with an
    # escort, losing working hours. Null for clinicians.
    would_travel: Mapped[bool | None]
    travel_mode: Mapped[str | None] = mapped_column(String(20))
    escort: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    works: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime]

    consultation: Mapped[Consultation] = relationship(
        lazy="raise_on_sql", back_populates="participants"
    )


class Booking(Base):
    """A time held by one resource (a clinician or a patient) for one consultation.

    The database refuses two active bookings of one resource that overlap: an exclusion
    constraint on PostgreSQL and a trigger on SQLite (see the initial migration). That makes
    double booking impossible even under concurrent requests, whatever the application checks.
    """

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="order"),
        Index("ix_bookings_resource_time", "resource", "starts_at", "ends_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[str] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), index=True
    )
    resource: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ConsultationEvent(Base):
    """History of a consultation: each state or time change with the revision it produced."""

    __tablename__ = "consultation_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[str] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    revision: Mapped[int] = mapped_column(Integer)


class AuditRecord(Base):
    """Who read or changed which consultation, when. Holds ids and roles only, no content."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_consultation_at", "consultation_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(20))
    participant_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(40))
    consultation_id: Mapped[str | None] = mapped_column(String(32))


class Survey(Base):
    """One participant's survey after a consultation: an invitation until answered.

    Who was asked is either a participant row (`participant_id`) or, for the specialist, who takes
    part through their account and has no participant row, the account (`user_id`). The token is
    stored only as its SHA-256. `participant_id` is cleared when retention removes the
    participant; the answers stay as anonymous facts, and `free_text` (the one field that may
    hold personal data) is erased while `has_free_text` keeps the count evaluators see.
    """

    __tablename__ = "surveys"
    __table_args__ = (
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction"),
        CheckConstraint(_in("role", PARTICIPANT_ROLES), name="role"),
        CheckConstraint(_in("language", LANGUAGES), name="language"),
        UniqueConstraint("consultation_id", "user_id", name="uq_surveys_consultation_user"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[str] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[str | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL"), unique=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(2), default="nn")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    would_travel: Mapped[bool | None]
    physical_visit_needed: Mapped[bool | None]
    free_text: Mapped[str | None] = mapped_column(String(2000))
    has_free_text: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The statistics' cell key, as on consultations.
    record_key: Mapped[int] = mapped_column(Integer, default=new_record_key)


class OutboxMail(Base):
    """An e-mail waiting to be sent, being sent, or sent: written in the booking's transaction.

    `message` is the whole RFC 5322 message. It holds a personal join link until it is sent, so
    delivery clears it once the mail is out (the .eml file of a demo setup keeps a copy).
    `claimed_until` is the lease of the sender working on a `sending` row; a row whose lease ran
    out belongs to a sender that died, and is taken up again.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_in("kind", MAIL_KINDS), name="kind"),
        CheckConstraint(_in("status", MAIL_STATUSES), name="status"),
        Index("ix_outbox_status_not_before", "status", "not_before"),
    )
    # A growing number, so mails due at the same moment go out in the order they were written.
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[str] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[str | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    recipient_role: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(Integer)
    message: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    not_before: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    claim: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    eml_path: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


SESSION_EVENTS = ("join", "admit", "leave", "disconnect", "remove")


class SessionEventRecord(Base):
    """Who was in a consultation's video room when: join, admit, leave, disconnect, remove.

    `participant_id` is the id used in the room: a `participants.id`, or `user-<id>` for a
    clinician who has no participant row (a specialist or coordinator of the department). The
    role is kept here so the facts survive retention erasing the participant's name.
    """

    __tablename__ = "session_events"
    __table_args__ = (
        CheckConstraint(_in("event", SESSION_EVENTS), name="event"),
        Index("ix_session_events_consultation_at", "consultation_id", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[str] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    participant_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    event: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]


# --------------------------------------------------------------------------- statistics summary
#
# Pre-aggregated figures for the evaluators' statistics, so a request reads some thousands of
# rows instead of every consultation. Database triggers on `consultations` and `surveys` keep them
# in step with every write, whatever code makes it (migration 0007 holds the triggers; see
# docs/statistics.md). Rows are never written by the application. `month` is a local calendar
# month numbered year × 12 + month − 1, looked up in `statistics_calendar`; `municipality` is ""
# where the consultation has none.


class StatisticsCalendar(Base):
    """Local calendar months as UTC intervals, for the time zone the summary was built in."""

    __tablename__ = "statistics_calendar"
    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    starts_at: Mapped[datetime] = mapped_column(unique=True)
    ends_at: Mapped[datetime]
    zone: Mapped[str] = mapped_column(String(64))


class _SummaryKey:
    """The grain every summary table shares: one local month and every filter of the page."""

    month: Mapped[int] = mapped_column(Integer, autoincrement=False)
    municipality: Mapped[str] = mapped_column(String(4))
    patient_group: Mapped[str] = mapped_column(String(40))
    hospital_id: Mapped[int] = mapped_column(Integer, autoincrement=False)
    department_id: Mapped[int] = mapped_column(Integer, autoincrement=False)


SUMMARY_KEY = ("month", "municipality", "patient_group", "hospital_id", "department_id")


class StatisticsCounts(_SummaryKey, Base):
    """Consultations per status, the people in them, and their surveys."""

    __tablename__ = "statistics_counts"
    __table_args__ = (PrimaryKeyConstraint(*SUMMARY_KEY, "status"),)
    status: Mapped[str] = mapped_column(String(20))
    consultations: Mapped[int] = mapped_column(Integer)
    with_relatives: Mapped[int] = mapped_column(Integer)
    relatives: Mapped[int] = mapped_column(Integer)
    interpreters: Mapped[int] = mapped_column(Integer)
    municipal_staff: Mapped[int] = mapped_column(Integer)
    patients: Mapped[int] = mapped_column(Integer)
    specialists: Mapped[int] = mapped_column(Integer)
    surveys_invited: Mapped[int] = mapped_column(Integer)
    surveys_answered: Mapped[int] = mapped_column(Integer)
    satisfaction_1: Mapped[int] = mapped_column(Integer)
    satisfaction_2: Mapped[int] = mapped_column(Integer)
    satisfaction_3: Mapped[int] = mapped_column(Integer)
    satisfaction_4: Mapped[int] = mapped_column(Integer)
    satisfaction_5: Mapped[int] = mapped_column(Integer)
    would_travel_yes: Mapped[int] = mapped_column(Integer)
    would_travel_no: Mapped[int] = mapped_column(Integer)
    physical_visit_yes: Mapped[int] = mapped_column(Integer)
    physical_visit_no: Mapped[int] = mapped_column(Integer)
    with_free_text: Mapped[int] = mapped_column(Integer)
    # Beside each count, the sum of its records' keys (migration 0009): the cell keys.
    consultations_keys: Mapped[int] = mapped_column(Integer)
    with_relatives_keys: Mapped[int] = mapped_column(Integer)
    relatives_keys: Mapped[int] = mapped_column(Integer)
    interpreters_keys: Mapped[int] = mapped_column(Integer)
    municipal_staff_keys: Mapped[int] = mapped_column(Integer)
    patients_keys: Mapped[int] = mapped_column(Integer)
    specialists_keys: Mapped[int] = mapped_column(Integer)
    surveys_invited_keys: Mapped[int] = mapped_column(Integer)
    surveys_answered_keys: Mapped[int] = mapped_column(Integer)
    satisfaction_1_keys: Mapped[int] = mapped_column(Integer)
    satisfaction_2_keys: Mapped[int] = mapped_column(Integer)
    satisfaction_3_keys: Mapped[int] = mapped_column(Integer)
    satisfaction_4_keys: Mapped[int] = mapped_column(Integer)
    satisfaction_5_keys: Mapped[int] = mapped_column(Integer)
    would_travel_yes_keys: Mapped[int] = mapped_column(Integer)
    would_travel_no_keys: Mapped[int] = mapped_column(Integer)
    physical_visit_yes_keys: Mapped[int] = mapped_column(Integer)
    physical_visit_no_keys: Mapped[int] = mapped_column(Integer)
    with_free_text_keys: Mapped[int] = mapped_column(Integer)


class StatisticsDurations(_SummaryKey, Base):
    """Completed consultations by duration in whole minutes (rounded): a histogram."""

    __tablename__ = "statistics_durations"
    __table_args__ = (PrimaryKeyConstraint(*SUMMARY_KEY, "minutes"),)
    minutes: Mapped[int] = mapped_column(Integer, autoincrement=False)
    consultations: Mapped[int] = mapped_column(Integer)


class StatisticsTravelKey(Base):
    """Every travel key ever counted, numbered: the summary groups by the number (cheaper)."""

    __tablename__ = "statistics_travel_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    travel_key: Mapped[str] = mapped_column(String(400), unique=True)


class StatisticsTravel(_SummaryKey, Base):
    """Completed consultations with travel inputs, per travel key, with the patient's answers."""

    __tablename__ = "statistics_travel"
    __table_args__ = (PrimaryKeyConstraint(*SUMMARY_KEY, "travel_key_id"),)
    travel_key_id: Mapped[int] = mapped_column(Integer, autoincrement=False)
    consultations: Mapped[int] = mapped_column(Integer)
    confirmed_yes: Mapped[int] = mapped_column(Integer)
    confirmed_no: Mapped[int] = mapped_column(Integer)
    consultations_keys: Mapped[int] = mapped_column(Integer)
    confirmed_yes_keys: Mapped[int] = mapped_column(Integer)
    confirmed_no_keys: Mapped[int] = mapped_column(Integer)


class LoginSession(Base):
    """A signed-in browser: the cookie holds a random id, this row only its keyed hash.

    `role` is the account's role at sign-in: a session whose account has another role now (or is
    deactivated) is ended on its next request, with every other session of that account.
    """

    __tablename__ = "login_sessions"
    __table_args__ = (CheckConstraint(_in("method", ("password", "oidc")), name="method"),)
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Flash messages (msgids) waiting for the next page, as a JSON list.
    flashes: Mapped[str] = mapped_column(String(2000), default="[]")


class HprLink(Base):
    """An account linked to a person's HPR number (HelseID's `hpr_number` claim)."""

    __tablename__ = "hpr_links"
    hpr_number: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SigninInvitation(Base):
    """An administrator's invitation to link an account at the next OpenID Connect sign-in."""

    __tablename__ = "signin_invitations"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TotpCredential(Base):
    """An account's second factor: a TOTP secret (RFC 6238), sealed with the token key.

    `last_step` is the time step of the last code accepted, so no code works twice.
    """

    __tablename__ = "totp_credentials"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    sealed_secret: Mapped[str] = mapped_column(String(400))
    last_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
