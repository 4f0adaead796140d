"""«Grønn helse»: the travel, time, CO2e and cost that a video consultation avoided.

This module owns the shipped reference data (municipalities, postal codes, hospitals in
`service/data/`), the versioned factor set (`service/data/factors.json`) and the pure calculation
over them. Nothing here touches the network, the database or the clock; every figure it returns
names the factor set (id and version) that produced it.

The formula, its assumptions and every factor's source are documented in `docs/green-health.md`.
In short, per traveller who would have gone to the hospital (one-way road km d, ferry km f):

- person-km = 2(d + f); vehicle-km = 2(d + f) shared by everyone in the same vehicle;
- CO2e = 2 × [d × EF_mode (per vehicle for car/taxi/ambulance, per person for bus/boat)
  + f × EF_ferry (car passenger or foot passenger)];
- hours = 2 × (drive minutes + ferry minutes incl. waiting) / 60;
- money is reported from two perspectives that are never added together: the health sector's
  (Pasientreiser reimbursement net of the patient's egenandel, plus an escort's lost-earnings
  compensation) and the societal one (travel cost counted once, plus the value of travel time).

When the patient took part from the GP office or an institution, the local trip there (made by the
patient and any escort) is subtracted.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Literal, get_args

from service.domain.errors import InvalidInput

Mode = Literal["car", "bus", "boat", "taxi_pasientreiser", "ambulance"]
PatientLocation = Literal["home", "gp_office", "institution"]
DistanceBasis = Literal["estimate_table", "straight_line_x_factor"]
FactorRole = Literal["calculation", "derivation", "reference"]

MODES: tuple[Mode, ...] = get_args(Mode)
PATIENT_LOCATIONS: tuple[PatientLocation, ...] = get_args(PatientLocation)
DISTANCE_BASES: tuple[DistanceBasis, ...] = get_args(DistanceBasis)
FACTOR_ROLES: tuple[FactorRole, ...] = get_args(FactorRole)

# Modes where people ride in one vehicle whose kilometres and emissions they share.
VEHICLE_MODES: frozenset[Mode] = frozenset({"car", "taxi_pasientreiser", "ambulance"})

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
FACTORS_FILE = "factors.json"
EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius


# --------------------------------------------------------------------------- reference data


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


# --------------------------------------------------------------------------- factor set


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


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class TravellerInput:
    """One person who would (or would not) have travelled to the hospital.

    `escort` is a ledsager whose travel Pasientreiser covers; `works` means the traveller would
    have lost working hours to the trip; `under_16` exempts the patient from the egenandel.
    """

    postal_code: str
    would_travel: bool
    mode: Mode
    escort: bool = False
    works: bool = False
    is_patient: bool = False
    under_16: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InvalidInput(f"Unknown travel mode {self.mode!r}.", field="mode")
        if self.is_patient and self.escort:
            raise InvalidInput("The patient cannot be their own escort.", field="escort")


@dataclass(frozen=True, slots=True)
class ConsultationInput:
    """Where the consultation's hospital is and where the patient took part from."""

    hospital: str
    patient_location: PatientLocation
    local_site_municipality: str | None = None

    def __post_init__(self) -> None:
        if self.patient_location not in PATIENT_LOCATIONS:
            raise InvalidInput(
                f"Unknown patient location {self.patient_location!r}.",
                field="patient_location",
            )
        if self.patient_location == "home" and self.local_site_municipality is not None:
            raise InvalidInput(
                "A patient at home has no local site.", field="local_site_municipality"
            )
        if self.patient_location == "gp_office" and self.local_site_municipality is None:
            raise InvalidInput(
                "Say which municipality the GP office is in.",
                field="local_site_municipality",
            )


# --------------------------------------------------------------------------- legs


@dataclass(frozen=True, slots=True)
class OneWayLeg:
    road_km: float
    ferry_km: float
    drive_min: float
    ferry_min: float

    @property
    def km(self) -> float:
        return self.road_km + self.ferry_km

    @property
    def minutes(self) -> float:
        return self.drive_min + self.ferry_min


NO_TRIP = OneWayLeg(road_km=0.0, ferry_km=0.0, drive_min=0.0, ferry_min=0.0)


def drive_minutes(road_km: float, factors: FactorSet) -> float:
    """Driving time fitted to the Nordhordland estimate table: a fixed part plus minutes per km."""
    return factors.value("drive_minutes_base") + factors.value("drive_minutes_per_km") * road_km


def road_km_from_straight_line(straight_km: float, ferry_km: float, factors: FactorSet) -> float:
    """Whole route = straight line × detour factor; the ferry crossing is part of that route."""
    return max(0.0, straight_km * factors.value("detour_factor") - ferry_km)


def hospital_leg(municipality: Municipality, hospital: str, factors: FactorSet) -> OneWayLeg:
    """One-way trip from the municipality's population to the hospital."""
    route = municipality.routes.get(hospital)
    if route is None:
        raise InvalidInput(f"Unknown hospital {hospital!r}.", field="hospital")
    if municipality.distance_basis == "estimate_table":
        return OneWayLeg(route.road_km, route.ferry_km, route.drive_min, route.ferry_min)
    road_km = road_km_from_straight_line(route.straight_km, route.ferry_km, factors)
    return OneWayLeg(road_km, route.ferry_km, drive_minutes(road_km, factors), route.ferry_min)


def local_leg(
    home: Municipality, site: Municipality, hospital: str, factors: FactorSet
) -> OneWayLeg:
    """One-way trip from home to the GP office or institution the patient joined from.

    Within one municipality: its population-weighted mean straight distance to its centroid ×
    detour factor. Between municipalities: centroid to centroid × detour factor, with the ferry
    that the home municipality needs towards the hospital and the site does not (Fedje → Knarvik
    takes the Fedje ferry; Knarvik → Fedje would too, by symmetry of the crossing).
    """
    if home.number == site.number:
        road_km = home.local_straight_km * factors.value("detour_factor")
        return OneWayLeg(road_km, 0.0, drive_minutes(road_km, factors), 0.0)
    home_route, site_route = home.routes[hospital], site.routes[hospital]
    ferry_km = abs(home_route.ferry_km - site_route.ferry_km)
    ferry_min = abs(home_route.ferry_min - site_route.ferry_min)
    straight = straight_line_km(home.coordinate, site.coordinate)
    road_km = road_km_from_straight_line(straight, ferry_km, factors)
    return OneWayLeg(road_km, ferry_km, drive_minutes(road_km, factors), ferry_min)


# --------------------------------------------------------------------------- amounts


@dataclass(frozen=True, slots=True)
class Amounts:
    """Round-trip figures. Kroner: see the module docstring for the two perspectives.

    - `travel_cost_kr`: the cost of the trip counted once, whoever pays it (standard rate per
      reimbursed traveller, taxi fare per taxi, relatives' own travel at the standard rate);
    - `health_sector_kr`: what Pasientreiser pays: reimbursement minus the patient's egenandel,
      plus escorts' lost-earnings compensation;
    - `patient_kr`: what the patient and relatives pay themselves (egenandel, unreimbursed travel);
    - `escort_compensation_kr`: the lost-earnings part of `health_sector_kr` (a transfer);
    - `time_value_kr`: travel hours × value of time;
    - `societal_kr` = travel_cost_kr + time_value_kr (transfers left out, nothing counted twice).
    """

    vehicle_km: float = 0.0
    person_km: float = 0.0
    hours: float = 0.0
    co2e_kg: float = 0.0
    travel_cost_kr: float = 0.0
    health_sector_kr: float = 0.0
    patient_kr: float = 0.0
    escort_compensation_kr: float = 0.0
    time_value_kr: float = 0.0
    societal_kr: float = 0.0
    work_hours_not_lost: float = 0.0

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __sub__(self, other: Amounts) -> Amounts:
        return Amounts(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))


ZERO = Amounts()


def sum_amounts(items: Iterable[Amounts]) -> Amounts:
    total = ZERO
    for item in items:
        total = total + item
    return total


@dataclass(frozen=True, slots=True)
class _Trip:
    """One traveller's part in a trip: who, how, how far, and how many share the vehicle."""

    index: int
    traveller: TravellerInput
    leg: OneWayLeg
    riders: int
    group_has_reimbursed: bool


def _is_reimbursed(traveller: TravellerInput) -> bool:
    return traveller.is_patient or traveller.escort


def value_of_time(mode: Mode, one_way_km: float, factors: FactorSet) -> float:
    """TØI values for private trips; taxi and ambulance are valued as car, boat as bus."""
    long_trip = one_way_km > factors.value("value_of_time_long_trip_threshold_km")
    if mode in VEHICLE_MODES:
        name = (
            "value_of_time_car_long_kr_per_hour"
            if long_trip
            else "value_of_time_car_short_kr_per_hour"
        )
    else:
        name = (
            "value_of_time_public_long_kr_per_hour"
            if long_trip
            else "value_of_time_public_short_kr_per_hour"
        )
    return factors.value(name)


def _road_emission_factor(mode: Mode, factors: FactorSet) -> float:
    return factors.value(
        {
            "car": "ef_car_kg_per_vkm",
            "taxi_pasientreiser": "ef_taxi_kg_per_vkm",
            "ambulance": "ef_ambulance_kg_per_vkm",
            "bus": "ef_bus_kg_per_pkm",
            "boat": "ef_boat_kg_per_pkm",
        }[mode]
    )


def _trip_amounts(trip: _Trip, factors: FactorSet) -> Amounts:
    """Round-trip amounts for one traveller; vehicle figures are this traveller's share."""
    t, leg, n = trip.traveller, trip.leg, trip.riders
    rate = factors.value("pasientreiser_rate_kr_per_km")
    shares_vehicle = t.mode in VEHICLE_MODES

    person_km = 2 * leg.km
    vehicle_km = person_km / n if shares_vehicle else 0.0
    road_ef = _road_emission_factor(t.mode, factors)
    road_co2 = 2 * leg.road_km * road_ef / (n if shares_vehicle else 1)
    ferry_ef = factors.value(
        "ef_ferry_car_passenger_kg_per_pkm" if shares_vehicle else "ef_ferry_foot_kg_per_pkm"
    )
    co2e = road_co2 + 2 * leg.ferry_km * ferry_ef
    hours = 2 * leg.minutes / 60

    # Cost of one one-way leg for this traveller, and who pays it.
    if t.mode == "ambulance":
        leg_cost, reimbursed = 0.0, True  # not costed: no source (listed in not_costed)
    elif t.mode == "taxi_pasientreiser":
        leg_cost, reimbursed = (
            leg.road_km * factors.value("taxi_cost_kr_per_vkm") / n,
            True,
        )
    elif t.mode == "car" and not _is_reimbursed(t):
        # A relative in a car that carries a reimbursed traveller adds no cost; a car of
        # relatives alone costs the standard rate once, shared.
        leg_cost = 0.0 if trip.group_has_reimbursed else leg.road_km * rate / n
        reimbursed = False
    else:
        leg_cost, reimbursed = leg.road_km * rate, _is_reimbursed(t)

    pays_egenandel = t.is_patient and not t.under_16 and t.mode != "ambulance"
    egenandel = min(factors.value("egenandel_kr_per_leg"), leg_cost) if pays_egenandel else 0.0

    compensation = 0.0
    if t.escort and t.works:
        compensation = factors.value("escort_lost_earnings_kr_per_hour") * min(
            hours, factors.value("escort_lost_earnings_max_hours")
        )

    travel_cost = 2 * leg_cost
    health_sector = (2 * (leg_cost - egenandel) if reimbursed else 0.0) + compensation
    patient = 2 * egenandel + (0.0 if reimbursed else travel_cost)
    time_value = hours * value_of_time(t.mode, leg.km, factors)
    return Amounts(
        vehicle_km=vehicle_km,
        person_km=person_km,
        hours=hours,
        co2e_kg=co2e,
        travel_cost_kr=travel_cost,
        health_sector_kr=health_sector,
        patient_kr=patient,
        escort_compensation_kr=compensation,
        time_value_kr=time_value,
        societal_kr=travel_cost + time_value,
        work_hours_not_lost=hours if t.works else 0.0,
    )


def _trips(
    travellers: Sequence[tuple[int, TravellerInput, Municipality, OneWayLeg]],
) -> dict[int, _Trip]:
    """Group travellers into vehicles: one per (vehicle mode, home municipality)."""
    riders: Counter[tuple[Mode, str]] = Counter()
    reimbursed_groups: set[tuple[Mode, str]] = set()
    for _, traveller, home, _ in travellers:
        key = (traveller.mode, home.number)
        riders[key] += 1
        if _is_reimbursed(traveller):
            reimbursed_groups.add(key)
    trips: dict[int, _Trip] = {}
    for index, traveller, home, leg in travellers:
        key = (traveller.mode, home.number)
        shares = traveller.mode in VEHICLE_MODES
        trips[index] = _Trip(
            index=index,
            traveller=traveller,
            leg=leg,
            riders=riders[key] if shares else 1,
            group_has_reimbursed=key in reimbursed_groups,
        )
    return trips


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class TravellerAvoided:
    """One traveller's figures; `counted` is False when they would not have travelled."""

    index: int
    municipality_number: str
    mode: Mode
    counted: bool
    hospital_leg: OneWayLeg
    local_leg: OneWayLeg
    hospital_trip: Amounts
    local_trip: Amounts
    avoided: Amounts


@dataclass(frozen=True, slots=True)
class TravelAvoided:
    hospital: str
    patient_location: PatientLocation
    local_site_municipality: str | None
    travellers: tuple[TravellerAvoided, ...]
    totals: Amounts
    factor_set_id: str
    factor_set_version: str
    not_costed: tuple[str, ...] = ()


def travel_avoided(
    travellers: Sequence[TravellerInput],
    hospital: str,
    patient_location: PatientLocation,
    local_site_municipality: str | None,
    ref: ReferenceData,
    factors: FactorSet,
) -> TravelAvoided:
    """Travel, time, CO2e and money avoided by holding one consultation by video.

    Only travellers with `would_travel` count. The local trip to the GP office or institution is
    made by the patient and any escort and is subtracted from theirs; for an institution that is
    the patient's home pass `local_site_municipality=None` and nothing is subtracted.
    """
    consultation = ConsultationInput(hospital, patient_location, local_site_municipality)
    if hospital not in ref.hospitals:
        raise InvalidInput(f"Unknown hospital {hospital!r}.", field="hospital")
    site: Municipality | None = None
    if consultation.local_site_municipality is not None:
        site = ref.municipalities.get(consultation.local_site_municipality)
        if site is None:
            raise InvalidInput(
                "The local site's municipality is not in the service area.",
                field="local_site_municipality",
            )

    homes = [municipality_for_postal_code(ref, t.postal_code) for t in travellers]
    counted = [
        (index, t, home)
        for index, (t, home) in enumerate(zip(travellers, homes, strict=True))
        if t.would_travel
    ]
    hospital_trips = _trips(
        [(index, t, home, hospital_leg(home, hospital, factors)) for index, t, home in counted]
    )
    local_trips: dict[int, _Trip] = {}
    if site is not None and patient_location != "home":
        local_trips = _trips(
            [
                (index, t, home, local_leg(home, site, hospital, factors))
                for index, t, home in counted
                if t.is_patient or t.escort
            ]
        )

    results: list[TravellerAvoided] = []
    for index, (traveller, home) in enumerate(zip(travellers, homes, strict=True)):
        trip = hospital_trips.get(index)
        if trip is None:
            results.append(
                TravellerAvoided(
                    index,
                    home.number,
                    traveller.mode,
                    False,
                    NO_TRIP,
                    NO_TRIP,
                    ZERO,
                    ZERO,
                    ZERO,
                )
            )
            continue
        to_hospital = _trip_amounts(trip, factors)
        local = local_trips.get(index)
        local_amounts = _trip_amounts(local, factors) if local is not None else ZERO
        results.append(
            TravellerAvoided(
                index=index,
                municipality_number=home.number,
                mode=traveller.mode,
                counted=True,
                hospital_leg=trip.leg,
                local_leg=local.leg if local is not None else NO_TRIP,
                hospital_trip=to_hospital,
                local_trip=local_amounts,
                avoided=to_hospital - local_amounts,
            )
        )

    not_costed = ("ambulance",) if any(t.mode == "ambulance" for _, t, _ in counted) else ()
    return TravelAvoided(
        hospital=hospital,
        patient_location=patient_location,
        local_site_municipality=consultation.local_site_municipality,
        travellers=tuple(results),
        totals=sum_amounts(r.avoided for r in results),
        factor_set_id=factors.id,
        factor_set_version=factors.version,
        not_costed=not_costed,
    )


@dataclass(frozen=True, slots=True)
class TravelTotals:
    """Totals over many consultations, with every factor set that produced them."""

    consultations: int
    travellers_counted: int
    totals: Amounts
    factor_sets: tuple[tuple[str, str], ...] = field(default=())
    not_costed: tuple[str, ...] = field(default=())

    @property
    def mixed_factor_sets(self) -> bool:
        return len(self.factor_sets) > 1


def aggregate_travel_avoided(results: Iterable[TravelAvoided]) -> TravelTotals:
    """Sum consultations. Mixing factor sets is allowed but visible in `factor_sets`."""
    items = list(results)
    return TravelTotals(
        consultations=len(items),
        travellers_counted=sum(1 for r in items for t in r.travellers if t.counted),
        totals=sum_amounts(r.totals for r in items),
        factor_sets=tuple(sorted({(r.factor_set_id, r.factor_set_version) for r in items})),
        not_costed=tuple(sorted({name for r in items for name in r.not_costed})),
    )
