"""«Grønn helse»: the travel, time, CO2e and cost that one video consultation avoided.

This module owns the pure calculation over the reference data (`reference`) and a factor set
(`factors`): the travellers' inputs, the one-way legs, the round-trip amounts, and totals over many
consultations. Every figure it returns names the factor set (id and version) that produced it.

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

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Literal, get_args

from service.domain.errors import InvalidInput
from service.domain.travel.factors import FactorSet
from service.domain.travel.reference import (
    Municipality,
    ReferenceData,
    municipality_for_postal_code,
    straight_line_km,
)

Mode = Literal["car", "bus", "boat", "taxi_pasientreiser", "ambulance"]
PatientLocation = Literal["home", "gp_office", "institution"]

MODES: tuple[Mode, ...] = get_args(Mode)
PATIENT_LOCATIONS: tuple[PatientLocation, ...] = get_args(PatientLocation)

# Modes where people ride in one vehicle whose kilometres and emissions they share.
VEHICLE_MODES: frozenset[Mode] = frozenset({"car", "taxi_pasientreiser", "ambulance"})


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
