"""cell keys: a random record key on consultations and surveys, key sums in the summary

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

The statistics are protected by cell-key perturbation (service/domain/statistics_cellkey.py):
every consultation and survey gets a random record key 0–255, and the summary keeps, beside each
count, the sum of the keys of the records it counts (`<count>_keys`), so a cell's key is read as
cheaply as its count. Existing rows get random keys here; the summary's counts and travel rows
are rebuilt with their key sums, and the triggers of 0007 are replaced by ones that keep the key
sums too (on SQLite nothing here rebuilds a table, so no other trigger is lost). Helpers that
did not change are taken from 0007's frozen copy; everything that changed is copied here.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _load_0007() -> ModuleType:
    path = Path(__file__).with_name("0007_statistics_summary.py")
    spec = importlib.util.spec_from_file_location("samkons_migration_0007", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


M7 = _load_0007()
KEY = M7.KEY
COUNT_SUMS: tuple[str, ...] = M7.COUNT_SUMS
SURVEY_SUMS: tuple[str, ...] = M7.SURVEY_SUMS
COUNT_KEYS = tuple(f"{name}_keys" for name in COUNT_SUMS)
SURVEY_KEYS = tuple(f"{name}_keys" for name in SURVEY_SUMS)
TRAVEL_SUMS = ("consultations", "confirmed_yes", "confirmed_no")
TRAVEL_KEYS = tuple(f"{name}_keys" for name in TRAVEL_SUMS)
COUNTS_COLUMNS = (*COUNT_SUMS, *COUNT_KEYS, *SURVEY_SUMS, *SURVEY_KEYS)
CONSULTATION_COLUMNS = (*M7.CONSULTATION_COLUMNS, "record_key")
SURVEY_COLUMNS = (*M7.SURVEY_COLUMNS, "record_key")
_upsert, _row_key, _month_of, _changed = M7._upsert, M7._row_key, M7._month_of, M7._changed
_plpgsql, _sqlite_trigger = M7._plpgsql, M7._sqlite_trigger


def _count_keys(row: str, sign: str) -> list[str]:
    """The keys a consultation adds beside each of 0007's counts (a person counted k times in a
    count adds its consultation's key k times)."""
    key = f"{row}.record_key"
    return [
        f"{sign} * {key}",
        f"{sign} * (CASE WHEN {row}.relatives_count > 0 THEN {key} ELSE 0 END)",
        f"{sign} * {key} * {row}.relatives_count",
        f"{sign} * {key} * {row}.interpreters_count",
        f"{sign} * {key} * {row}.municipal_staff_count",
        f"{sign} * (CASE WHEN {row}.kind = 'joint' THEN {key} ELSE 0 END)",
        f"{sign} * (CASE WHEN {row}.specialist_id IS NOT NULL THEN {key} ELSE 0 END)",
    ]


def _survey_values(s: str) -> list[str]:
    """One survey's counts (0 or 1 each, as 0007) and then its key where it counts."""
    values: list[str] = M7._survey_values(s)
    return [*values, *(f"{s}.record_key * ({v})" for v in values)]


def _apply_consultation(dialect: str, row: str, sign: str) -> list[str]:
    survey_sums = ", ".join(
        f"COALESCE(SUM({v}), 0) AS {name}"
        for v, name in zip(_survey_values("s"), (*SURVEY_SUMS, *SURVEY_KEYS), strict=True)
    )
    counts = ", ".join([*M7._count_values(row, sign), *_count_keys(row, sign)])
    surveys = ", ".join(f"{sign} * sv.{name}" for name in (*SURVEY_SUMS, *SURVEY_KEYS))
    month = f"(SELECT {_month_of(row + '.starts_at')} AS month) AS cal"
    key = f"{row}.record_key"
    columns = (*KEY, "status", *COUNT_SUMS, *COUNT_KEYS, *SURVEY_SUMS, *SURVEY_KEYS)
    return [
        f"INSERT INTO statistics_counts ({', '.join(columns)}) "
        f"SELECT cal.month, {_row_key(row)}, {row}.status, {counts}, {surveys} "
        f"FROM {month}, (SELECT {survey_sums} FROM surveys s "
        f"WHERE s.consultation_id = {row}.id) AS sv "
        "WHERE cal.month IS NOT NULL "
        + _upsert("statistics_counts", (*KEY, "status"), COUNTS_COLUMNS),
        f"INSERT INTO statistics_durations ({', '.join(KEY)}, minutes, consultations) "
        f"SELECT cal.month, {_row_key(row)}, {M7._minutes(dialect, row)}, {sign} FROM {month} "
        f"WHERE cal.month IS NOT NULL AND {row}.status = 'completed' "
        + _upsert("statistics_durations", (*KEY, "minutes"), ("consultations",)),
        "INSERT INTO statistics_travel_keys (travel_key) "
        f"SELECT {row}.travel_key WHERE {row}.status = 'completed' "
        f"AND {row}.travel_key IS NOT NULL ON CONFLICT (travel_key) DO NOTHING",
        f"INSERT INTO statistics_travel ({', '.join(KEY)}, travel_key_id, "
        f"{', '.join((*TRAVEL_SUMS, *TRAVEL_KEYS))}) "
        f"SELECT cal.month, {_row_key(row)}, "
        f"(SELECT tk.id FROM statistics_travel_keys tk WHERE tk.travel_key = {row}.travel_key), "
        f"{sign}, "
        f"{sign} * (CASE WHEN {row}.patient_travel_confirmed THEN 1 ELSE 0 END), "
        f"{sign} * (CASE WHEN NOT {row}.patient_travel_confirmed THEN 1 ELSE 0 END), "
        f"{sign} * {key}, "
        f"{sign} * (CASE WHEN {row}.patient_travel_confirmed THEN {key} ELSE 0 END), "
        f"{sign} * (CASE WHEN NOT {row}.patient_travel_confirmed THEN {key} ELSE 0 END) "
        f"FROM {month} WHERE cal.month IS NOT NULL AND {row}.status = 'completed' "
        f"AND {row}.travel_key IS NOT NULL "
        + _upsert("statistics_travel", (*KEY, "travel_key_id"), (*TRAVEL_SUMS, *TRAVEL_KEYS)),
    ]


def _apply_survey(row: str, sign: str) -> list[str]:
    zeros = ", ".join("0" for _ in (*COUNT_SUMS, *COUNT_KEYS))
    values = ", ".join(f"{sign} * ({v})" for v in _survey_values(row))
    columns = (*KEY, "status", *COUNT_SUMS, *COUNT_KEYS, *SURVEY_SUMS, *SURVEY_KEYS)
    return [
        f"INSERT INTO statistics_counts ({', '.join(columns)}) "
        f"SELECT c.month, {_row_key('c')}, c.status, {zeros}, {values} "
        f"FROM (SELECT c0.*, {_month_of('c0.starts_at')} AS month FROM consultations c0 "
        f"WHERE c0.id = {row}.consultation_id) AS c "
        "WHERE c.month IS NOT NULL "
        + _upsert("statistics_counts", (*KEY, "status"), COUNTS_COLUMNS)
    ]


def _create_postgresql_triggers() -> None:
    for kind, apply in (
        ("consultation", lambda r, s: _apply_consultation("postgresql", r, s)),
        ("survey", _apply_survey),
    ):
        returns = (
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;\n  RETURN NEW;"
            if kind == "consultation"
            else "RETURN NULL;"
        )
        op.execute(
            f"""
CREATE FUNCTION statistics_{kind}_changed() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {_plpgsql(apply("OLD", "-1"))}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {_plpgsql(apply("NEW", "1"))}
  END IF;
  {returns}
END
$$ LANGUAGE plpgsql"""
        )
    # As 0007: the consultation's delete runs BEFORE, taking its surveys away while they exist.
    for table, kind, columns, delete in (
        ("consultations", "consultation", CONSULTATION_COLUMNS, "BEFORE"),
        ("surveys", "survey", SURVEY_COLUMNS, "AFTER"),
    ):
        function = f"statistics_{kind}_changed()"
        op.execute(
            f"CREATE TRIGGER statistics_{kind}_insert AFTER INSERT ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}"
        )
        op.execute(
            f"CREATE TRIGGER statistics_{kind}_update AFTER UPDATE OF {', '.join(columns)} "
            f"ON {table} FOR EACH ROW WHEN ({_changed(columns)}) EXECUTE FUNCTION {function}"
        )
        op.execute(
            f"CREATE TRIGGER statistics_{kind}_delete {delete} DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}"
        )


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


def _drop_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for table, kind in (("consultations", "consultation"), ("surveys", "survey")):
        for event in ("insert", "update", "delete"):
            on = f" ON {table}" if dialect == "postgresql" else ""
            op.execute(f"DROP TRIGGER IF EXISTS statistics_{kind}_{event}{on}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS statistics_consultation_changed()")
        op.execute("DROP FUNCTION IF EXISTS statistics_survey_changed()")


def _back_fill() -> None:
    """The counts and travel rows again, now with their key sums (durations are unchanged)."""
    op.execute("DELETE FROM statistics_counts")
    op.execute("DELETE FROM statistics_travel")
    sums = ", ".join(f"SUM({v})" for v in [*M7._count_values("c", "1"), *_count_keys("c", "1")])
    zeros = ", ".join("0" for _ in (*SURVEY_SUMS, *SURVEY_KEYS))
    key = ", ".join(KEY)
    columns = ", ".join((*COUNT_SUMS, *COUNT_KEYS, *SURVEY_SUMS, *SURVEY_KEYS))
    consultations = f"(SELECT c0.*, {_month_of('c0.starts_at')} AS month FROM consultations c0)"
    op.execute(
        f"INSERT INTO statistics_counts ({key}, status, {columns}) "
        f"SELECT month, {_row_key('c')}, c.status, {sums}, {zeros} FROM {consultations} AS c "
        f"WHERE month IS NOT NULL GROUP BY month, {_row_key('c')}, c.status"
    )
    surveys = ", ".join(f"SUM({v})" for v in _survey_values("s"))
    op.execute(
        f"INSERT INTO statistics_counts ({key}, status, {columns}) "
        f"SELECT month, {_row_key('c')}, c.status, "
        f"{', '.join('0' for _ in (*COUNT_SUMS, *COUNT_KEYS))}, {surveys} "
        f"FROM surveys s JOIN {consultations} AS c ON c.id = s.consultation_id "
        f"WHERE month IS NOT NULL GROUP BY month, {_row_key('c')}, c.status "
        + _upsert("statistics_counts", (*KEY, "status"), COUNTS_COLUMNS)
    )
    op.execute(
        f"INSERT INTO statistics_travel ({key}, travel_key_id, "
        f"{', '.join((*TRAVEL_SUMS, *TRAVEL_KEYS))}) "
        f"SELECT month, {_row_key('c')}, tk.id, COUNT(*), "
        "SUM(CASE WHEN c.patient_travel_confirmed THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN NOT c.patient_travel_confirmed THEN 1 ELSE 0 END), "
        "SUM(c.record_key), "
        "SUM(CASE WHEN c.patient_travel_confirmed THEN c.record_key ELSE 0 END), "
        "SUM(CASE WHEN NOT c.patient_travel_confirmed THEN c.record_key ELSE 0 END) "
        f"FROM {consultations} AS c JOIN statistics_travel_keys tk ON tk.travel_key = c.travel_key "
        f"WHERE month IS NOT NULL AND c.status = 'completed' GROUP BY month, {_row_key('c')}, tk.id"
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in ("statistics_counts", "statistics_travel"):
            op.execute(f"ANALYZE {table}")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_triggers()
    for table in ("consultations", "surveys"):
        if dialect == "postgresql":
            # A volatile default: PostgreSQL evaluates it for every existing row as well.
            default = sa.text("(floor(random() * 256))::integer")
            op.add_column(table, sa.Column("record_key", sa.Integer(), server_default=default))
            op.alter_column(table, "record_key", nullable=False)
        else:
            # SQLite takes only a constant default in ADD COLUMN; the app sets the key itself
            # (the model's default), and existing rows get theirs here.
            op.add_column(
                table,
                sa.Column("record_key", sa.Integer(), nullable=False, server_default="0"),
            )
            op.execute(f"UPDATE {table} SET record_key = random() & 255")
    for name in (*COUNT_KEYS, *SURVEY_KEYS):
        op.add_column(
            "statistics_counts", sa.Column(name, sa.Integer(), nullable=False, server_default="0")
        )
    for name in TRAVEL_KEYS:
        op.add_column(
            "statistics_travel", sa.Column(name, sa.Integer(), nullable=False, server_default="0")
        )
    _back_fill()
    if dialect == "postgresql":
        _create_postgresql_triggers()
    else:
        _create_sqlite_triggers()


def downgrade() -> None:
    _drop_triggers()
    for name in TRAVEL_KEYS:
        op.drop_column("statistics_travel", name)
    for name in (*COUNT_KEYS, *SURVEY_KEYS):
        op.drop_column("statistics_counts", name)
    for table in ("consultations", "surveys"):
        op.drop_column(table, "record_key")
    M7._create_triggers(op.get_bind().dialect.name)
