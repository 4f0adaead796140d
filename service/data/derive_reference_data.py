"""Rebuild `municipalities.csv`, `postal_codes.csv` and `hospitals.csv` from the public sources.

Inputs are the Bring postal-code register (2024 municipality numbers) and Erik Bolstad's postal
code coordinates (CC BY 3.0). Everything that is not in those files (which municipalities, the
Nordhordland road estimates, ferry crossings, hospital positions) is written down here as a
constant with its reason, so the shipped CSVs can be regenerated and checked:

    python -m service.data.derive_reference_data BRING.tsv BOLSTAD.tsv service/data
"""

from __future__ import annotations

import csv
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from service.domain.travel.reference import Coordinate, straight_line_km

# Shipped detour factor and driving-time fit (must equal factors.json; a test checks this).
DETOUR_FACTOR = 1.6
DRIVE_MINUTES_BASE = 5.5
DRIVE_MINUTES_PER_KM = 0.91
# A municipality whose people live at a single postal-code point would get a local trip of 0 km.
LOCAL_STRAIGHT_KM_FLOOR = 1.0


@dataclass(frozen=True, slots=True)
class HospitalSpec:
    id: str
    name: str
    coordinate: Coordinate
    note: str


HOSPITALS: tuple[HospitalSpec, ...] = (
    HospitalSpec(
        "haukeland",
        "Haukeland universitetssjukehus",
        Coordinate(60.373, 5.357),
        "GREEN-HEALTH-SOURCES.md; agrees with Bolstad's point for 5021 (60.3745, 5.3572)",
    ),
    HospitalSpec(
        "haraldsplass",
        "Haraldsplass diakonale sykehus",
        Coordinate(60.3795, 5.356),
        "ESTIMATE ±0.3 km: Ulriksdal 8, about 0.7 km north of Haukeland, read off public maps",
    ),
)


@dataclass(frozen=True, slots=True)
class MunicipalitySpec:
    number: str
    name: str
    helse_bergen_area: str  # "yes" | "uncertain"
    region_nordhordland: bool
    note: str


MUNICIPALITIES: tuple[MunicipalitySpec, ...] = (
    MunicipalitySpec("4601", "Bergen", "yes", False, ""),
    MunicipalitySpec(
        "4616",
        "Tysnes",
        "uncertain",
        False,
        "probably Helse Fonna (Stord); included so its postal codes resolve",
    ),
    MunicipalitySpec(
        "4619",
        "Eidfjord",
        "uncertain",
        False,
        "Voss sjukehus or Helse Fonna (Odda); not verified",
    ),
    MunicipalitySpec("4620", "Ulvik", "uncertain", False, "Voss sjukehus area; not verified"),
    MunicipalitySpec("4621", "Voss", "yes", False, "Voss sjukehus is part of Helse Bergen"),
    MunicipalitySpec(
        "4622", "Kvam", "uncertain", False, "Helse Bergen or Helse Fonna; not verified"
    ),
    MunicipalitySpec("4623", "Samnanger", "yes", False, ""),
    MunicipalitySpec(
        "4624",
        "Bjørnafjorden",
        "yes",
        False,
        "Os and Fusa (2020); the Fusa side uses the Hatvik–Venjaneset ferry, not modelled",
    ),
    MunicipalitySpec("4625", "Austevoll", "yes", False, ""),
    MunicipalitySpec("4626", "Øygarden", "yes", False, ""),
    MunicipalitySpec("4627", "Askøy", "yes", False, ""),
    MunicipalitySpec("4628", "Vaksdal", "yes", True, ""),
    MunicipalitySpec("4629", "Modalen", "yes", True, ""),
    MunicipalitySpec("4630", "Osterøy", "yes", True, ""),
    MunicipalitySpec("4631", "Alver", "yes", True, ""),
    MunicipalitySpec("4632", "Austrheim", "yes", True, ""),
    MunicipalitySpec("4633", "Fedje", "yes", True, ""),
    MunicipalitySpec("4634", "Masfjorden", "yes", True, ""),
    MunicipalitySpec(
        "4635",
        "Gulen",
        "uncertain",
        True,
        "Helse Førde's area; Helse Vest lets Gulen use Helse Bergen (NRK report)",
    ),
)


@dataclass(frozen=True, slots=True)
class EstimateRow:
    """GREEN-HEALTH-SOURCES.md table, to Haukeland: total road km and door-to-door minutes."""

    centre: Coordinate
    total_km: float  # including any ferry crossing
    total_min: float  # including ferry and waiting


ESTIMATE_TABLE: Mapping[str, EstimateRow] = {
    "4631": EstimateRow(Coordinate(60.548, 5.294), 32, 35),
    "4630": EstimateRow(Coordinate(60.526, 5.496), 35, 40),
    "4628": EstimateRow(Coordinate(60.589, 5.820), 55, 50),
    "4632": EstimateRow(Coordinate(60.777, 4.933), 75, 70),
    "4634": EstimateRow(Coordinate(60.801, 5.305), 87.5, 90),  # midpoints of 75–100 km, 80–100 min
    "4629": EstimateRow(Coordinate(60.815, 5.802), 90, 85),
    "4633": EstimateRow(Coordinate(60.781, 4.717), 80, 120),  # "~2 h door to door"
    "4635": EstimateRow(Coordinate(60.981, 5.074), 115, 110),  # midpoint of 110–120 km
}


@dataclass(frozen=True, slots=True)
class Ferry:
    km: float
    minutes: float  # crossing plus waiting/boarding
    crossing: str


# ESTIMATES: crossing lengths from map distances, times from timetables as commonly quoted plus
# 15–20 min waiting. Every other municipality reaches Bergen by road and bridges.
FERRIES: Mapping[str, Ferry] = {
    "4633": Ferry(7.5, 45, "Fedje–Sævrøy, ~25–30 min crossing + 15–20 min waiting"),
    "4625": Ferry(10.0, 50, "Hufthamar–Krokeide, ~35 min crossing + 15 min waiting"),
    "4616": Ferry(13.0, 50, "Våge–Halhjem, ~35 min crossing + 15 min waiting"),
}


@dataclass(frozen=True, slots=True)
class PostalRow:
    postnr: str
    poststed: str
    kommunenr: str
    category: str
    coordinate: Coordinate
    population: int | None


def read_bring(path: Path) -> dict[str, tuple[str, str, str]]:
    """postnr → (poststed, kommunenr, category) from the tab-separated Bring register."""
    result: dict[str, tuple[str, str, str]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) >= 5 and row[0].isdigit():
                result[row[0]] = (row[1], row[2], row[4])
    return result


def read_bolstad(path: Path) -> dict[str, tuple[Coordinate, int | None]]:
    """postnr → (coordinate, population or None) from Bolstad's file."""
    result: dict[str, tuple[Coordinate, int | None]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if not row["LAT"] or not row["LON"]:
                continue
            population = int(row["FOLKETAL"]) if row["FOLKETAL"].strip() else None
            result[row["POSTNR"]] = (
                Coordinate(float(row["LAT"]), float(row["LON"])),
                population,
            )
    return result


def join_postal_codes(
    bring: Mapping[str, tuple[str, str, str]],
    bolstad: Mapping[str, tuple[Coordinate, int | None]],
    municipality_numbers: Iterable[str],
) -> list[PostalRow]:
    """Bring's municipality (2024) with Bolstad's coordinate, joined on postal code."""
    wanted = set(municipality_numbers)
    rows: list[PostalRow] = []
    for postnr, (place, kommunenr, category) in sorted(bring.items()):
        if kommunenr not in wanted:
            continue
        if postnr not in bolstad:
            raise ValueError(f"postal code {postnr} has no coordinate in Bolstad's file")
        coordinate, population = bolstad[postnr]
        rows.append(PostalRow(postnr, place, kommunenr, category, coordinate, population))
    return rows


def population_weights(rows: Sequence[PostalRow]) -> list[tuple[Coordinate, int]]:
    return [(r.coordinate, r.population) for r in rows if r.population]


def weighted_centroid(points: Sequence[tuple[Coordinate, int]]) -> Coordinate:
    """Population-weighted mean of lat and lon (fine at municipality scale)."""
    total = sum(weight for _, weight in points)
    return Coordinate(
        sum(c.lat * w for c, w in points) / total,
        sum(c.lon * w for c, w in points) / total,
    )


def weighted_mean_distance(points: Sequence[tuple[Coordinate, int]], target: Coordinate) -> float:
    """How far the average inhabitant is from `target` in a straight line.

    Better than the centroid's distance where a municipality surrounds the target: Bergen's
    centroid is 2 km from Haukeland, its inhabitants on average several times that.
    """
    total = sum(weight for _, weight in points)
    return sum(straight_line_km(c, target) * w for c, w in points) / total


def _rounded(value: float, digits: int = 1) -> float:
    return round(value, digits)


def municipality_row(spec: MunicipalitySpec, postal_rows: Sequence[PostalRow]) -> dict[str, str]:
    points = population_weights(postal_rows)
    if not points:
        raise ValueError(f"municipality {spec.number} has no population data")
    centroid = weighted_centroid(points)
    estimate = ESTIMATE_TABLE.get(spec.number)
    ferry = FERRIES.get(spec.number, Ferry(0.0, 0.0, ""))
    row: dict[str, str] = {
        "kommunenr": spec.number,
        "name": spec.name,
        "lat": f"{centroid.lat:.4f}",
        "lon": f"{centroid.lon:.4f}",
        "coordinate_basis": "population_weighted_centroid",
        "population": str(sum(w for _, w in points)),
        "helse_bergen_area": spec.helse_bergen_area,
        "region_nordhordland": "true" if spec.region_nordhordland else "false",
        "local_straight_km": str(
            max(LOCAL_STRAIGHT_KM_FLOOR, _rounded(weighted_mean_distance(points, centroid)))
        ),
        "distance_basis": "estimate_table" if estimate else "straight_line_x_factor",
    }
    haukeland = HOSPITALS[0].coordinate
    for hospital in HOSPITALS:
        straight = _rounded(weighted_mean_distance(points, hospital.coordinate))
        if estimate is not None:
            # The table is to Haukeland; other hospitals shift by the straight-line difference
            # seen from the table's centre, times the detour factor.
            shift = DETOUR_FACTOR * (
                straight_line_km(estimate.centre, hospital.coordinate)
                - straight_line_km(estimate.centre, haukeland)
            )
            road = _rounded(estimate.total_km - ferry.km + shift)
            drive = _rounded(estimate.total_min - ferry.minutes + DRIVE_MINUTES_PER_KM * shift)
        else:
            road = _rounded(max(0.0, straight * DETOUR_FACTOR - ferry.km))
            drive = _rounded(DRIVE_MINUTES_BASE + DRIVE_MINUTES_PER_KM * road)
        row[f"{hospital.id}_straight_km"] = f"{straight}"
        row[f"{hospital.id}_road_km"] = f"{road}"
        row[f"{hospital.id}_drive_min"] = f"{drive}"
        row[f"{hospital.id}_ferry_km"] = f"{float(ferry.km)}"
        row[f"{hospital.id}_ferry_min"] = f"{float(ferry.minutes)}"
    return row


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_reference_data(bring_path: Path, bolstad_path: Path, out_dir: Path) -> None:
    numbers = [spec.number for spec in MUNICIPALITIES]
    postal = join_postal_codes(read_bring(bring_path), read_bolstad(bolstad_path), numbers)

    _write_csv(
        out_dir / "hospitals.csv",
        ["id", "name", "lat", "lon", "note"],
        ([h.id, h.name, f"{h.coordinate.lat}", f"{h.coordinate.lon}", h.note] for h in HOSPITALS),
    )
    _write_csv(
        out_dir / "postal_codes.csv",
        ["postnr", "poststed", "kommunenr", "category", "lat", "lon", "population"],
        (
            [
                r.postnr,
                r.poststed,
                r.kommunenr,
                r.category,
                f"{r.coordinate.lat:.5f}",
                f"{r.coordinate.lon:.5f}",
                "" if r.population is None else str(r.population),
            ]
            for r in postal
        ),
    )
    rows = [
        municipality_row(spec, [r for r in postal if r.kommunenr == spec.number])
        for spec in sorted(MUNICIPALITIES, key=lambda s: s.number)
    ]
    _write_csv(out_dir / "municipalities.csv", list(rows[0]), ([*row.values()] for row in rows))


def detour_ratios() -> list[float]:
    """Table road km / straight km from the table's centre to Haukeland (median → detour)."""
    haukeland = HOSPITALS[0].coordinate
    return [
        row.total_km / straight_line_km(row.centre, haukeland) for row in ESTIMATE_TABLE.values()
    ]


def main(argv: Sequence[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    write_reference_data(Path(argv[0]), Path(argv[1]), Path(argv[2]))
    print(f"median detour ratio in the estimate table: {statistics.median(detour_ratios()):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
