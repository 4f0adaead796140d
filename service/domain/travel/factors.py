"""The «grønn helse» factor set: dated, versioned factors and the evaluator's overrides.

This module owns `service/data/factors.json` (every factor's value, unit, year, source and role)
and how settings override it: unknown names and impossible values are refused, and a changed set
gets its own version from its content hash, so every figure can name the factors that produced
it. The calculation that uses them is `service.domain.travel.calculation`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Literal, get_args

from service.domain.errors import InvalidInput
from service.domain.travel.reference import DATA_DIR

FactorRole = Literal["calculation", "derivation", "reference"]
FACTOR_ROLES: tuple[FactorRole, ...] = get_args(FactorRole)
FACTORS_FILE = "factors.json"


@dataclass(frozen=True, slots=True)
class Factor:
    name: str
    value: float
    unit: str
    year: int
    source: str
    estimate: bool
    role: FactorRole
    note: str = ""


@dataclass(frozen=True, slots=True)
class FactorSet:
    """A dated, versioned set of factors.

    `version` is the shipped version, or, when overrides changed any value, the shipped version
    plus `+mod.` and the first 12 hex digits of the content hash, so two evaluators with the same
    values get the same version and different values never share one.
    """

    id: str
    version: str
    base_version: str
    valid_from: date
    content_hash: str
    modified: bool
    overrides: Mapping[str, float]
    factors: Mapping[str, Factor]

    def value(self, name: str) -> float:
        return self.factors[name].value


def content_hash(factors: Mapping[str, Factor]) -> str:
    """SHA-256 over the canonical JSON of every factor's name and value."""
    canonical = json.dumps(
        {name: factor.value for name, factor in sorted(factors.items())},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _parse_factor(name: str, raw: Mapping[str, object]) -> Factor:
    role = raw["role"]
    if role not in FACTOR_ROLES:
        raise ValueError(f"factor {name}: unknown role {role!r}")
    value = raw["value"]
    year = raw["year"]
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"factor {name}: value must be a number")
    if not isinstance(year, int):
        raise TypeError(f"factor {name}: year must be an integer")
    return Factor(
        name=name,
        value=float(value),
        unit=str(raw["unit"]),
        year=year,
        source=str(raw["source"]),
        estimate=bool(raw["estimate"]),
        role="calculation"
        if role == "calculation"
        else ("derivation" if role == "derivation" else "reference"),
        note=str(raw.get("note", "")),
    )


def _checked_override(name: str, value: float, base: Factor) -> Factor:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"Factor {name} must be a finite number.", field=f"factors.{name}")
    if value < 0:
        raise InvalidInput(f"Factor {name} cannot be negative.", field=f"factors.{name}")
    if name == "detour_factor" and value < 1:
        raise InvalidInput(
            "A road is never shorter than the straight line.", field=f"factors.{name}"
        )
    return Factor(
        name=base.name,
        value=float(value),
        unit=base.unit,
        year=base.year,
        source=f"override (shipped: {base.value:g}; {base.source})",
        estimate=True,
        role=base.role,
        note=base.note,
    )


def load_factor_set(
    overrides: Mapping[str, float] | None = None, path: Path | str | None = None
) -> FactorSet:
    """Read the shipped factor set and apply `overrides` (from settings) on top.

    Unknown names and impossible values raise InvalidInput with field `factors.<name>`. An
    override equal to the shipped value changes nothing, so the version stays the shipped one.
    """
    file = Path(path) if path is not None else DATA_DIR / FACTORS_FILE
    document = json.loads(file.read_text(encoding="utf-8"))
    header = document["factor_set"]
    base = {name: _parse_factor(name, raw) for name, raw in document["factors"].items()}
    base_hash = content_hash(base)

    effective = dict(base)
    applied: dict[str, float] = {}
    for name, value in (overrides or {}).items():
        if name not in base:
            raise InvalidInput(f"There is no factor called {name}.", field=f"factors.{name}")
        if value == base[name].value:
            continue
        effective[name] = _checked_override(name, value, base[name])
        applied[name] = float(value)

    effective_hash = content_hash(effective)
    modified = effective_hash != base_hash
    base_version = str(header["version"])
    return FactorSet(
        id=str(header["id"]),
        version=f"{base_version}+mod.{effective_hash[:12]}" if modified else base_version,
        base_version=base_version,
        valid_from=date.fromisoformat(str(header["valid_from"])),
        content_hash=effective_hash,
        modified=modified,
        overrides=MappingProxyType(applied),
        factors=MappingProxyType(effective),
    )
