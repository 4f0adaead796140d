"""The shipped reference data of «grønn helse»: municipalities, postal codes and hospitals.

This module owns the CSV files in `service/data/` (rebuilt by
`service.data.derive_reference_data`), their loading and cross-checks, each municipality's route
to each hospital, and the great-circle distance the straight-line rows are derived from. It holds
no factors and does no travel arithmetic beyond that distance.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal, get_args

from service.domain.errors import InvalidInput

DistanceBasis = Literal["estimate_table", "straight_line_x_factor"]
DISTANCE_BASES: tuple[DistanceBasis, ...] = get_args(DistanceBasis)

DATA_DIR = Path(__file__).resolve().parent.parent.parent / "data"
EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius


@dataclass(frozen=True, slots=True)
class Coordinate:
    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"coordinate out of range: {self.lat}, {self.lon}")


def straight_line_km(a: Coordinate, b: Coordinate) -> float:
    """Great-circle (haversine) distance in km."""
    phi_a, phi_b = math.radians(a.lat), math.radians(b.lat)
    d_phi = phi_b - phi_a
    d_lambda = math.radians(b.lon - a.lon)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi_a) * math.cos(phi_b) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


@dataclass(frozen=True, slots=True)
class HospitalRoute:
    """One municipality's shipped route to one hospital, one way.

    `road_km` and `drive_min` are as shipped (with the shipped factor set). For rows whose basis
    is `straight_line_x_factor` the calculation re-derives them from `straight_km` with the active
    factor set, so an evaluator's detour factor takes effect; see `hospital_leg`.
    """

    straight_km: float
    road_km: float
    drive_min: float
    ferry_km: float
    ferry_min: float


@dataclass(frozen=True, slots=True)
class Municipality:
    number: str
    name: str
    coordinate: Coordinate
    coordinate_basis: str
    population: int
    helse_bergen_area: Literal["yes", "uncertain"]
    region_nordhordland: bool
    local_straight_km: float
    distance_basis: DistanceBasis
    routes: Mapping[str, HospitalRoute]


@dataclass(frozen=True, slots=True)
class PostalCode:
    code: str
    place: str
    municipality_number: str
    category: str
    coordinate: Coordinate
    population: int | None


@dataclass(frozen=True, slots=True)
class Hospital:
    id: str
    name: str
    coordinate: Coordinate


@dataclass(frozen=True, slots=True)
class ReferenceData:
    municipalities: Mapping[str, Municipality]
    postal_codes: Mapping[str, PostalCode]
    hospitals: Mapping[str, Hospital]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _optional_int(text: str) -> int | None:
    return int(text) if text.strip() else None


def load_reference_data(path: Path | str | None = None) -> ReferenceData:
    """Read municipalities, postal codes and hospitals from `path` (default: the shipped data).

    Raises ValueError if the files disagree with each other (a postal code in an unlisted
    municipality, a municipality without a route to every hospital, an unknown distance basis).
    """
    directory = Path(path) if path is not None else DATA_DIR

    hospitals: dict[str, Hospital] = {}
    for row in _read_csv(directory / "hospitals.csv"):
        hospitals[row["id"]] = Hospital(
            id=row["id"],
            name=row["name"],
            coordinate=Coordinate(float(row["lat"]), float(row["lon"])),
        )

    municipalities: dict[str, Municipality] = {}
    for row in _read_csv(directory / "municipalities.csv"):
        basis = row["distance_basis"]
        if basis not in DISTANCE_BASES:
            raise ValueError(f"municipality {row['kommunenr']}: unknown distance_basis {basis!r}")
        area = row["helse_bergen_area"]
        if area not in ("yes", "uncertain"):
            raise ValueError(f"municipality {row['kommunenr']}: helse_bergen_area {area!r}")
        routes: dict[str, HospitalRoute] = {}
        for hospital_id in hospitals:
            try:
                routes[hospital_id] = HospitalRoute(
                    straight_km=float(row[f"{hospital_id}_straight_km"]),
                    road_km=float(row[f"{hospital_id}_road_km"]),
                    drive_min=float(row[f"{hospital_id}_drive_min"]),
                    ferry_km=float(row[f"{hospital_id}_ferry_km"]),
                    ferry_min=float(row[f"{hospital_id}_ferry_min"]),
                )
            except (KeyError, ValueError) as exc:
                raise ValueError(
                    f"municipality {row['kommunenr']}: no complete route to {hospital_id}"
                ) from exc
        municipalities[row["kommunenr"]] = Municipality(
            number=row["kommunenr"],
            name=row["name"],
            coordinate=Coordinate(float(row["lat"]), float(row["lon"])),
            coordinate_basis=row["coordinate_basis"],
            population=int(row["population"]),
            helse_bergen_area="yes" if area == "yes" else "uncertain",
            region_nordhordland=row["region_nordhordland"] == "true",
            local_straight_km=float(row["local_straight_km"]),
            distance_basis="estimate_table"
            if basis == "estimate_table"
            else "straight_line_x_factor",
            routes=MappingProxyType(routes),
        )

    postal_codes: dict[str, PostalCode] = {}
    for row in _read_csv(directory / "postal_codes.csv"):
        if row["kommunenr"] not in municipalities:
            raise ValueError(
                f"postal code {row['postnr']} in unlisted municipality {row['kommunenr']}"
            )
        postal_codes[row["postnr"]] = PostalCode(
            code=row["postnr"],
            place=row["poststed"],
            municipality_number=row["kommunenr"],
            category=row["category"],
            coordinate=Coordinate(float(row["lat"]), float(row["lon"])),
            population=_optional_int(row["population"]),
        )

    return ReferenceData(
        municipalities=MappingProxyType(municipalities),
        postal_codes=MappingProxyType(postal_codes),
        hospitals=MappingProxyType(hospitals),
    )


def municipality_for_postal_code(ref: ReferenceData, postnr: str) -> Municipality:
    """The municipality a postal code belongs to (2024 numbers, Bring register)."""
    code = postnr.strip()
    postal = ref.postal_codes.get(code)
    if postal is None:
        raise InvalidInput(
            "Postal code is not in the service area or does not exist.",
            field="postal_code",
        )
    return ref.municipalities[postal.municipality_number]
