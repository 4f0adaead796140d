"""statistics summary: pre-aggregated figures kept in step by triggers, back-filled

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23

The statistics read these tables instead of every consultation. Triggers on `consultations`
and `surveys` (plpgsql on PostgreSQL, SQL triggers on SQLite, the same statements in both) add a
row's contribution on insert, move it on an update of anything the figures read, and take it
away on delete, so no code path can leave the summary behind. Local months come from
`statistics_calendar`, filled here in Python with zoneinfo because SQLite has no time-zone
database. Everything below is a frozen copy: later changes to the summary need a new revision.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from service.settings import Settings

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIRST_YEAR, LAST_YEAR = 1990, 2199
KEY = ("month", "municipality", "patient_group", "hospital_id", "department_id")
COUNT_SUMS = (
    "consultations",
    "with_relatives",
    "relatives",
    "interpreters",
    "municipal_staff",
    "patients",
    "specialists",
)
SURVEY_SUMS = (
    "surveys_invited",
    "surveys_answered",
    "satisfaction_1",
    "satisfaction_2",
    "satisfaction_3",
    "satisfaction_4",
    "satisfaction_5",
    "would_travel_yes",
    "would_travel_no",
    "physical_visit_yes",
    "physical_visit_no",
    "with_free_text",
)
# Only writes to these columns can change a figure; others (names, purpose, erasure) skip the
# triggers entirely.
CONSULTATION_COLUMNS = (
    "starts_at",
    "ends_at",
    "actual_started_at",
    "actual_ended_at",
    "status",
    "kind",
    "municipality_number",
    "patient_group",
    "hospital_id",
    "department_id",
    "specialist_id",
    "travel_key",
    "patient_travel_confirmed",
    "relatives_count",
    "interpreters_count",
    "municipal_staff_count",
)
SURVEY_COLUMNS = (
    "consultation_id",
    "answered_at",
    "satisfaction",
    "would_travel",
    "physical_visit_needed",
    "has_free_text",
)


def _key_columns() -> list[sa.Column[int] | sa.Column[str]]:
    return [
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("municipality", sa.String(length=4), nullable=False),
        sa.Column("patient_group", sa.String(length=40), nullable=False),
        sa.Column("hospital_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("department_id", sa.Integer(), autoincrement=False, nullable=False),
    ]


def _sums(names: Sequence[str]) -> list[sa.Column[int]]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


# --------------------------------------------------------------------------- SQL, both databases


def _month_of(starts_at: str) -> str:
    # Newest month starting at or before the moment: one step in the starts_at index (a plain
    # range test would visit every earlier month).
    return (
        "(SELECT k.month FROM statistics_calendar k "
        f"WHERE k.starts_at <= {starts_at} AND {starts_at} < k.ends_at "
        "ORDER BY k.starts_at DESC LIMIT 1)"
    )


def _minutes(dialect: str, row: str) -> str:
    """Actual start to end when both were recorded, else planned; rounded to whole minutes.

    Whole seconds first on both databases (SQLite's strftime drops fractions), then
    (seconds + 30) / 60 in integer arithmetic, so both give the same minute for every row.
    """
    actual = f"{row}.actual_started_at IS NOT NULL AND {row}.actual_ended_at IS NOT NULL"
    start = f"CASE WHEN {actual} THEN {row}.actual_started_at ELSE {row}.starts_at END"
    end = f"CASE WHEN {actual} THEN {row}.actual_ended_at ELSE {row}.ends_at END"
    if dialect == "postgresql":
        seconds = (
            f"(CAST(floor(extract(epoch FROM {end})) AS bigint)"
            f" - CAST(floor(extract(epoch FROM {start})) AS bigint))"
        )
        return f"CAST((GREATEST({seconds}, 0) + 30) / 60 AS integer)"
    seconds = (
        f"(CAST(strftime('%s', {end}) AS INTEGER) - CAST(strftime('%s', {start}) AS INTEGER))"
    )
    return f"((max({seconds}, 0) + 30) / 60)"


def _count_values(row: str, sign: str) -> list[str]:
    return [
        sign,
        f"{sign} * (CASE WHEN {row}.relatives_count > 0 THEN 1 ELSE 0 END)",
        f"{sign} * {row}.relatives_count",
        f"{sign} * {row}.interpreters_count",
        f"{sign} * {row}.municipal_staff_count",
        f"{sign} * (CASE WHEN {row}.kind = 'joint' THEN 1 ELSE 0 END)",
        f"{sign} * (CASE WHEN {row}.specialist_id IS NOT NULL THEN 1 ELSE 0 END)",
    ]


def _survey_values(s: str) -> list[str]:
    """One survey's contribution (0 or 1 each), for SUM() over surveys `s`."""
    answered = f"{s}.answered_at IS NOT NULL"
    return [
        "1",
        f"CASE WHEN {answered} THEN 1 ELSE 0 END",
        *(f"CASE WHEN {answered} AND {s}.satisfaction = {i} THEN 1 ELSE 0 END" for i in range(1, 6)),
        f"CASE WHEN {answered} AND {s}.would_travel THEN 1 ELSE 0 END",
        f"CASE WHEN {answered} AND NOT {s}.would_travel THEN 1 ELSE 0 END",
        f"CASE WHEN {answered} AND {s}.physical_visit_needed THEN 1 ELSE 0 END",
        f"CASE WHEN {answered} AND NOT {s}.physical_visit_needed THEN 1 ELSE 0 END",
        f"CASE WHEN {answered} AND {s}.has_free_text THEN 1 ELSE 0 END",
    ]


def _upsert(table: str, key: Sequence[str], sums: Sequence[str]) -> str:
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in sums)
    return f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"


def _row_key(row: str) -> str:
    return (
        f"COALESCE({row}.municipality_number, ''), {row}.patient_group, "
        f"{row}.hospital_id, {row}.department_id"
    )


def _apply_consultation(dialect: str, row: str, sign: str) -> list[str]:
    """Add (`sign` 1) or take away (-1) the contribution of consultation `row`."""
    survey_sums = ", ".join(
        f"COALESCE(SUM({v}), 0) AS {name}"
        for v, name in zip(_survey_values("s"), SURVEY_SUMS, strict=True)
    )
    counts = ", ".join(_count_values(row, sign))
    surveys = ", ".join(f"{sign} * sv.{name}" for name in SURVEY_SUMS)
    month = f"(SELECT {_month_of(row + '.starts_at')} AS month) AS cal"
    return [
        f"INSERT INTO statistics_counts ({', '.join((*KEY, 'status', *COUNT_SUMS, *SURVEY_SUMS))}) "
        f"SELECT cal.month, {_row_key(row)}, {row}.status, {counts}, {surveys} "
        f"FROM {month}, (SELECT {survey_sums} FROM surveys s "
        f"WHERE s.consultation_id = {row}.id) AS sv "
        "WHERE cal.month IS NOT NULL "
        + _upsert("statistics_counts", (*KEY, "status"), (*COUNT_SUMS, *SURVEY_SUMS)),
        f"INSERT INTO statistics_durations ({', '.join(KEY)}, minutes, consultations) "
        f"SELECT cal.month, {_row_key(row)}, {_minutes(dialect, row)}, {sign} FROM {month} "
        f"WHERE cal.month IS NOT NULL AND {row}.status = 'completed' "
        + _upsert("statistics_durations", (*KEY, "minutes"), ("consultations",)),
        "INSERT INTO statistics_travel_keys (travel_key) "
        f"SELECT {row}.travel_key WHERE {row}.status = 'completed' "
        f"AND {row}.travel_key IS NOT NULL ON CONFLICT (travel_key) DO NOTHING",
        f"INSERT INTO statistics_travel ({', '.join(KEY)}, travel_key_id, consultations, "
        "confirmed_yes, confirmed_no) "
        f"SELECT cal.month, {_row_key(row)}, "
        f"(SELECT tk.id FROM statistics_travel_keys tk WHERE tk.travel_key = {row}.travel_key), "
        f"{sign}, "
        f"{sign} * (CASE WHEN {row}.patient_travel_confirmed THEN 1 ELSE 0 END), "
        f"{sign} * (CASE WHEN NOT {row}.patient_travel_confirmed THEN 1 ELSE 0 END) "
        f"FROM {month} WHERE cal.month IS NOT NULL AND {row}.status = 'completed' "
        f"AND {row}.travel_key IS NOT NULL "
        + _upsert(
            "statistics_travel",
            (*KEY, "travel_key_id"),
            ("consultations", "confirmed_yes", "confirmed_no"),
        ),
    ]


def _apply_survey(row: str, sign: str) -> list[str]:
    """Add or take away one survey, in the summary row of its consultation (if it still has one:
    a consultation's delete has already taken its surveys away, see the delete trigger)."""
    zeros = ", ".join("0" for _ in COUNT_SUMS)
    values = ", ".join(f"{sign} * ({v})" for v in _survey_values(row))
    return [
        f"INSERT INTO statistics_counts ({', '.join((*KEY, 'status', *COUNT_SUMS, *SURVEY_SUMS))}) "
        f"SELECT c.month, {_row_key('c')}, c.status, {zeros}, {values} "
        f"FROM (SELECT c0.*, {_month_of('c0.starts_at')} AS month FROM consultations c0 "
        f"WHERE c0.id = {row}.consultation_id) AS c "
        "WHERE c.month IS NOT NULL "
        + _upsert("statistics_counts", (*KEY, "status"), (*COUNT_SUMS, *SURVEY_SUMS))
    ]


def _changed(columns: Sequence[str]) -> str:
    return " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)


def _create_triggers(dialect: str) -> None:
    if dialect == "postgresql":
        _create_postgresql_triggers()
    else:
        _create_sqlite_triggers()


def _plpgsql(statements: Sequence[str]) -> str:
    return "\n    ".join(f"{s};" for s in statements)


def _create_postgresql_triggers() -> None:
    op.execute(
        f"""
CREATE FUNCTION statistics_consultation_changed() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {_plpgsql(_apply_consultation("postgresql", "OLD", "-1"))}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {_plpgsql(_apply_consultation("postgresql", "NEW", "1"))}
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END
$$ LANGUAGE plpgsql"""
    )
    op.execute(
        f"""
CREATE FUNCTION statistics_survey_changed() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {_plpgsql(_apply_survey("OLD", "-1"))}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {_plpgsql(_apply_survey("NEW", "1"))}
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql"""
    )
    # BEFORE DELETE: the consultation takes its surveys' counts away while they still exist;
    # the cascade that deletes them runs after the row is gone, so their own trigger finds no
    # consultation and adds nothing twice.
    op.execute(
        "CREATE TRIGGER statistics_consultation_insert AFTER INSERT ON consultations "
        "FOR EACH ROW EXECUTE FUNCTION statistics_consultation_changed()"
    )
    op.execute(
        "CREATE TRIGGER statistics_consultation_update AFTER UPDATE OF "
        f"{', '.join(CONSULTATION_COLUMNS)} ON consultations FOR EACH ROW "
        f"WHEN ({_changed(CONSULTATION_COLUMNS)}) "
        "EXECUTE FUNCTION statistics_consultation_changed()"
    )
    op.execute(
        "CREATE TRIGGER statistics_consultation_delete BEFORE DELETE ON consultations "
        "FOR EACH ROW EXECUTE FUNCTION statistics_consultation_changed()"
    )
    op.execute(
        "CREATE TRIGGER statistics_survey_insert AFTER INSERT ON surveys "
        "FOR EACH ROW EXECUTE FUNCTION statistics_survey_changed()"
    )
    op.execute(
        f"CREATE TRIGGER statistics_survey_update AFTER UPDATE OF {', '.join(SURVEY_COLUMNS)} "
        f"ON surveys FOR EACH ROW WHEN ({_changed(SURVEY_COLUMNS)}) "
        "EXECUTE FUNCTION statistics_survey_changed()"
    )
    op.execute(
        "CREATE TRIGGER statistics_survey_delete AFTER DELETE ON surveys "
        "FOR EACH ROW EXECUTE FUNCTION statistics_survey_changed()"
    )


def _sqlite_trigger(name: str, when: str, statements: Sequence[str], condition: str = "") -> None:
    body = "\n  ".join(f"{s};" for s in statements)
    where = f" WHEN {condition}" if condition else ""
    op.execute(f"CREATE TRIGGER {name} {when} FOR EACH ROW{where}\nBEGIN\n  {body}\nEND")


def _create_sqlite_triggers() -> None:
    changed = _changed(CONSULTATION_COLUMNS).replace("IS DISTINCT FROM", "IS NOT")
    _sqlite_trigger(
        "statistics_consultation_insert",
        "AFTER INSERT ON consultations",
        _apply_consultation("sqlite", "NEW", "1"),
    )
    _sqlite_trigger(
        "statistics_consultation_update",
        f"AFTER UPDATE OF {', '.join(CONSULTATION_COLUMNS)} ON consultations",
        [*_apply_consultation("sqlite", "OLD", "-1"), *_apply_consultation("sqlite", "NEW", "1")],
        changed,
    )
    _sqlite_trigger(
        "statistics_consultation_delete",
        "BEFORE DELETE ON consultations",
        _apply_consultation("sqlite", "OLD", "-1"),
    )
    survey_changed = _changed(SURVEY_COLUMNS).replace("IS DISTINCT FROM", "IS NOT")
    _sqlite_trigger("statistics_survey_insert", "AFTER INSERT ON surveys", _apply_survey("NEW", "1"))
    _sqlite_trigger(
        "statistics_survey_update",
        f"AFTER UPDATE OF {', '.join(SURVEY_COLUMNS)} ON surveys",
        [*_apply_survey("OLD", "-1"), *_apply_survey("NEW", "1")],
        survey_changed,
    )
    _sqlite_trigger("statistics_survey_delete", "AFTER DELETE ON surveys", _apply_survey("OLD", "-1"))


def _fill_calendar(zone: str) -> None:
    tz = ZoneInfo(zone)
    dialect = op.get_bind().dialect.name
    moment: sa.types.TypeEngine[Any] = (
        sa.String() if dialect == "sqlite" else sa.DateTime(timezone=True)
    )
    calendar = sa.table(
        "statistics_calendar",
        sa.column("month", sa.Integer()),
        sa.column("starts_at", moment),
        sa.column("ends_at", moment),
        sa.column("zone", sa.String()),
    )

    def utc(index: int) -> datetime | str:
        start = datetime(index // 12, index % 12 + 1, 1, tzinfo=tz).astimezone(UTC)
        # The text format samkons' UTCDateTime writes on SQLite, so comparisons stay textual.
        return start.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else start

    months = range(FIRST_YEAR * 12, (LAST_YEAR + 1) * 12)
    op.bulk_insert(
        calendar,
        [{"month": m, "starts_at": utc(m), "ends_at": utc(m + 1), "zone": zone} for m in months],
    )


def _back_fill(dialect: str) -> None:
    """Aggregate every existing consultation and survey, as the triggers would have one by one."""
    counts = ", ".join(f"SUM({v})" for v in _count_values("c", "1"))
    zeros = ", ".join("0" for _ in SURVEY_SUMS)
    key = ", ".join(KEY)
    op.execute(
        f"INSERT INTO statistics_counts ({key}, status, {', '.join((*COUNT_SUMS, *SURVEY_SUMS))}) "
        f"SELECT month, {_row_key('c')}, c.status, {counts}, {zeros} "
        f"FROM (SELECT c0.*, {_month_of('c0.starts_at')} AS month FROM consultations c0) AS c "
        f"WHERE month IS NOT NULL GROUP BY month, {_row_key('c')}, c.status"
    )
    surveys = ", ".join(f"SUM({v})" for v in _survey_values("s"))
    op.execute(
        f"INSERT INTO statistics_counts ({key}, status, {', '.join((*COUNT_SUMS, *SURVEY_SUMS))}) "
        f"SELECT month, {_row_key('c')}, c.status, {', '.join('0' for _ in COUNT_SUMS)}, "
        f"{surveys} FROM surveys s JOIN "
        f"(SELECT c0.*, {_month_of('c0.starts_at')} AS month FROM consultations c0) AS c "
        f"ON c.id = s.consultation_id WHERE month IS NOT NULL "
        f"GROUP BY month, {_row_key('c')}, c.status "
        + _upsert("statistics_counts", (*KEY, "status"), (*COUNT_SUMS, *SURVEY_SUMS))
    )
    completed = (
        f"(SELECT c0.*, {_month_of('c0.starts_at')} AS month FROM consultations c0 "
        "WHERE c0.status = 'completed') AS c"
    )
    op.execute(
        f"INSERT INTO statistics_durations ({key}, minutes, consultations) "
        f"SELECT month, {_row_key('c')}, {_minutes(dialect, 'c')}, COUNT(*) FROM {completed} "
        f"WHERE month IS NOT NULL GROUP BY month, {_row_key('c')}, {_minutes(dialect, 'c')}"
    )
    op.execute(
        "INSERT INTO statistics_travel_keys (travel_key) SELECT DISTINCT travel_key "
        "FROM consultations WHERE status = 'completed' AND travel_key IS NOT NULL "
        "ORDER BY travel_key"
    )
    op.execute(
        f"INSERT INTO statistics_travel ({key}, travel_key_id, consultations, confirmed_yes, "
        "confirmed_no) "
        f"SELECT month, {_row_key('c')}, tk.id, COUNT(*), "
        "SUM(CASE WHEN c.patient_travel_confirmed THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN NOT c.patient_travel_confirmed THEN 1 ELSE 0 END) "
        f"FROM {completed} JOIN statistics_travel_keys tk ON tk.travel_key = c.travel_key "
        f"WHERE month IS NOT NULL GROUP BY month, {_row_key('c')}, tk.id"
    )
    if dialect == "postgresql":
        # Fresh statistics, so the first statistics read gets a good plan.
        for table in ("statistics_counts", "statistics_durations", "statistics_travel"):
            op.execute(f"ANALYZE {table}")


def upgrade() -> None:
    op.create_table(
        "statistics_calendar",
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_statistics_calendar")),
        sa.UniqueConstraint("starts_at", name=op.f("uq_statistics_calendar_starts_at")),
    )
    op.create_table(
        "statistics_counts",
        *_key_columns(),
        sa.Column("status", sa.String(length=20), nullable=False),
        *_sums((*COUNT_SUMS, *SURVEY_SUMS)),
        sa.PrimaryKeyConstraint(*KEY, "status", name=op.f("pk_statistics_counts")),
    )
    op.create_table(
        "statistics_durations",
        *_key_columns(),
        sa.Column("minutes", sa.Integer(), autoincrement=False, nullable=False),
        *_sums(("consultations",)),
        sa.PrimaryKeyConstraint(*KEY, "minutes", name=op.f("pk_statistics_durations")),
    )
    op.create_table(
        "statistics_travel_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("travel_key", sa.String(length=400), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statistics_travel_keys")),
        sa.UniqueConstraint("travel_key", name=op.f("uq_statistics_travel_keys_travel_key")),
    )
    op.create_table(
        "statistics_travel",
        *_key_columns(),
        sa.Column("travel_key_id", sa.Integer(), autoincrement=False, nullable=False),
        *_sums(("consultations", "confirmed_yes", "confirmed_no")),
        sa.PrimaryKeyConstraint(*KEY, "travel_key_id", name=op.f("pk_statistics_travel")),
    )
    dialect = op.get_bind().dialect.name
    # The zone the app is configured for; the app refuses to start with another one.
    _fill_calendar(Settings().timezone)
    _back_fill(dialect)
    _create_triggers(dialect)


def downgrade() -> None:
    for table in ("consultations", "surveys"):
        kind = "consultation" if table == "consultations" else "survey"
        for event in ("insert", "update", "delete"):
            on = f" ON {table}" if op.get_bind().dialect.name == "postgresql" else ""
            op.execute(f"DROP TRIGGER IF EXISTS statistics_{kind}_{event}{on}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS statistics_consultation_changed()")
        op.execute("DROP FUNCTION IF EXISTS statistics_survey_changed()")
    for table in (
        "statistics_travel",
        "statistics_travel_keys",
        "statistics_durations",
        "statistics_counts",
        "statistics_calendar",
    ):
        op.drop_table(table)
