"""Tests for service.domain.travel: hand-computed examples, the local trip, overrides, data
integrity.

Expected values are computed here from the formula in docs/green-health.md with the factor values
written out below, never by calling the implementation.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from service.data import derive_reference_data as derive
from service.domain.errors import InvalidInput
from service.domain.travel.calculation import (
    MODES,
    Mode,
    TravelAvoided,
    TravellerInput,
    aggregate_travel_avoided,
    travel_avoided,
)
from service.domain.travel.factors import FactorSet, load_factor_set
from service.domain.travel.reference import (
    DATA_DIR,
    Coordinate,
    ReferenceData,
    load_reference_data,
    municipality_for_postal_code,
    straight_line_km,
)

# Factor values of set samkons-green-health 2024.1, written out.
RATE = 3.00
EGENANDEL = 171.0
COMPENSATION_PER_H = 135.0
COMPENSATION_MAX_H = 8.0
VOT_CAR_SHORT, VOT_CAR_LONG = 72.0, 140.0
VOT_PUBLIC_SHORT, VOT_PUBLIC_LONG = 54.0, 85.0
LONG_TRIP_KM = 70.0
EF_ROAD = {
    "car": 0.13,
    "taxi_pasientreiser": 0.1502,
    "ambulance": 0.27,
    "bus": 0.1047,
    "boat": 0.0187,
}
EF_FERRY_CAR, EF_FERRY_FOOT = 0.1295, 0.0187
TAXI_KR_PER_KM = 15.0
DETOUR = 1.6
DRIVE_BASE, DRIVE_PER_KM = 5.5, 0.91

# The Nordhordland estimate table to Haukeland, ferry taken out:
# postal code, road km, drive min, ferry km, ferry min (one way).
NORDHORDLAND = {
    "4631 Alver": ("5914", 32.0, 35.0, 0.0, 0.0),
    "4630 Osterøy": ("5282", 35.0, 40.0, 0.0, 0.0),
    "4628 Vaksdal": ("5722", 55.0, 50.0, 0.0, 0.0),
    "4632 Austrheim": ("5943", 75.0, 70.0, 0.0, 0.0),
    "4634 Masfjorden": ("5981", 87.5, 90.0, 0.0, 0.0),
    "4629 Modalen": ("5729", 90.0, 85.0, 0.0, 0.0),
    "4633 Fedje": ("5947", 72.5, 75.0, 7.5, 45.0),
    "4635 Gulen": ("5966", 115.0, 110.0, 0.0, 0.0),
}


@pytest.fixture(scope="module")
def ref() -> ReferenceData:
    return load_reference_data()


@pytest.fixture(scope="module")
def factors() -> FactorSet:
    return load_factor_set()


def _patient(postal_code: str, mode: Mode = "car", **kwargs: bool) -> TravellerInput:
    return TravellerInput(
        postal_code=postal_code, would_travel=True, mode=mode, is_patient=True, **kwargs
    )


def _lone_adult_patient_expected(
    mode: str, d: float, drive: float, f: float, ferry: float
) -> dict[str, float]:
    """The documented formula for one adult patient travelling alone, not working."""
    vehicle = mode in ("car", "taxi_pasientreiser", "ambulance")
    hours = 2 * (drive + ferry) / 60
    co2 = 2 * (d * EF_ROAD[mode] + f * (EF_FERRY_CAR if vehicle else EF_FERRY_FOOT))
    if mode == "ambulance":
        leg_cost, egenandel = 0.0, 0.0
    else:
        leg_cost = d * (TAXI_KR_PER_KM if mode == "taxi_pasientreiser" else RATE)
        egenandel = min(EGENANDEL, leg_cost)
    long_trip = d + f > LONG_TRIP_KM
    if vehicle:
        vot = VOT_CAR_LONG if long_trip else VOT_CAR_SHORT
    else:
        vot = VOT_PUBLIC_LONG if long_trip else VOT_PUBLIC_SHORT
    return {
        "vehicle_km": 2 * (d + f) if vehicle else 0.0,
        "person_km": 2 * (d + f),
        "hours": hours,
        "co2e_kg": co2,
        "travel_cost_kr": 2 * leg_cost,
        "health_sector_kr": 2 * (leg_cost - egenandel),
        "patient_kr": 2 * egenandel,
        "escort_compensation_kr": 0.0,
        "time_value_kr": hours * vot,
        "societal_kr": 2 * leg_cost + hours * vot,
        "work_hours_not_lost": 0.0,
    }


# --------------------------------------------------------------------------- worked examples


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("municipality", sorted(NORDHORDLAND))
def test_lone_patient_from_each_nordhordland_municipality_and_mode(
    municipality: str, mode: Mode, ref: ReferenceData, factors: FactorSet
) -> None:
    postal_code, d, drive, f, ferry = NORDHORDLAND[municipality]
    result = travel_avoided([_patient(postal_code, mode)], "haukeland", "home", None, ref, factors)
    expected = _lone_adult_patient_expected(mode, d, drive, f, ferry)
    totals = result.totals
    for name, value in expected.items():
        assert getattr(totals, name) == pytest.approx(value), name
    assert result.travellers[0].municipality_number == municipality.split()[0]


def test_alver_by_car_worked_example(ref: ReferenceData, factors: FactorSet) -> None:
    # docs/green-health.md, example 1: d = 32 km, 35 min, no ferry.
    t = travel_avoided([_patient("5914")], "haukeland", "home", None, ref, factors).totals
    assert t.person_km == pytest.approx(64.0)
    assert t.co2e_kg == pytest.approx(8.32)  # 2 × 32 × 0.13
    assert t.hours == pytest.approx(70 / 60)
    assert t.travel_cost_kr == pytest.approx(192.0)  # 2 × 32 × 3.00
    assert t.health_sector_kr == pytest.approx(0.0)  # 96 kr a leg is below the egenandel
    assert t.patient_kr == pytest.approx(192.0)
    assert t.societal_kr == pytest.approx(192.0 + 84.0)  # time: 70/60 h × 72 kr


def test_fedje_by_car_worked_example_with_ferry(ref: ReferenceData, factors: FactorSet) -> None:
    # docs/green-health.md, example 2: d = 72.5, f = 7.5, 75 + 45 min.
    t = travel_avoided([_patient("5947")], "haukeland", "home", None, ref, factors).totals
    assert t.vehicle_km == pytest.approx(160.0)
    assert t.co2e_kg == pytest.approx(2 * (72.5 * 0.13 + 7.5 * 0.1295))  # 20.7925
    assert t.hours == pytest.approx(4.0)
    assert t.health_sector_kr == pytest.approx(93.0)  # 2 × (217.50 − 171)
    assert t.patient_kr == pytest.approx(342.0)
    assert t.time_value_kr == pytest.approx(560.0)  # 80 km one way > 70: 140 kr/h
    assert t.societal_kr == pytest.approx(995.0)


def test_escort_shares_the_car_and_is_compensated(ref: ReferenceData, factors: FactorSet) -> None:
    # docs/green-health.md, example 3: Gulen, patient and working escort in one car.
    travellers = [
        _patient("5966"),
        TravellerInput("5966", would_travel=True, mode="car", escort=True, works=True),
    ]
    result = travel_avoided(travellers, "haukeland", "home", None, ref, factors)
    t = result.totals
    hours_each = 2 * 110 / 60
    assert t.vehicle_km == pytest.approx(230.0)  # one car
    assert t.person_km == pytest.approx(460.0)
    assert t.co2e_kg == pytest.approx(2 * 115 * 0.13)  # one car's emissions
    assert t.hours == pytest.approx(2 * hours_each)
    assert t.escort_compensation_kr == pytest.approx(135 * hours_each)  # under the 8 h cap
    assert t.health_sector_kr == pytest.approx(2 * (345 - 171) + 2 * 345 + 135 * hours_each)
    assert t.patient_kr == pytest.approx(342.0)
    assert t.work_hours_not_lost == pytest.approx(hours_each)
    assert t.societal_kr == pytest.approx(2 * 690 + 2 * hours_each * 140)
    # each traveller carries half of the shared car
    assert result.travellers[0].avoided.vehicle_km == pytest.approx(115.0)


def test_escort_compensation_is_capped_at_eight_hours(
    ref: ReferenceData, factors: FactorSet
) -> None:
    travellers = [
        _patient("5947", "bus"),
        TravellerInput("5947", would_travel=True, mode="bus", escort=True, works=True),
    ]
    overridden = load_factor_set({"drive_minutes_base": 0.0})  # Fedje is table-based: no effect
    t = travel_avoided(travellers, "haukeland", "home", None, ref, overridden).totals
    assert t.hours == pytest.approx(8.0)  # 2 × 4 h
    slow = travel_avoided(
        travellers,
        "haukeland",
        "home",
        None,
        ref,
        load_factor_set({"escort_lost_earnings_max_hours": 3.0}),
    ).totals
    assert t.escort_compensation_kr == pytest.approx(135 * 4.0)
    assert slow.escort_compensation_kr == pytest.approx(135 * 3.0)


def test_relative_in_the_patients_car_adds_people_not_cars(
    ref: ReferenceData, factors: FactorSet
) -> None:
    alone = travel_avoided([_patient("5914")], "haukeland", "home", None, ref, factors).totals
    with_relative = travel_avoided(
        [_patient("5914"), TravellerInput("5914", would_travel=True, mode="car")],
        "haukeland",
        "home",
        None,
        ref,
        factors,
    ).totals
    assert with_relative.vehicle_km == pytest.approx(alone.vehicle_km)
    assert with_relative.co2e_kg == pytest.approx(alone.co2e_kg)
    assert with_relative.person_km == pytest.approx(2 * alone.person_km)
    assert with_relative.travel_cost_kr == pytest.approx(alone.travel_cost_kr)
    assert with_relative.hours == pytest.approx(2 * alone.hours)


def test_relatives_from_another_municipality_drive_their_own_car(
    ref: ReferenceData, factors: FactorSet
) -> None:
    # Two relatives in Bergen (straight 6.5 km × 1.6 = 10.4 km) share one car, paid by themselves.
    relatives = [TravellerInput("5009", would_travel=True, mode="car") for _ in range(2)]
    result = travel_avoided([_patient("5914"), *relatives], "haukeland", "home", None, ref, factors)
    bergen_km = 6.5 * 1.6
    bergen = [r.avoided for r in result.travellers[1:]]
    assert sum(a.vehicle_km for a in bergen) == pytest.approx(2 * bergen_km)
    assert sum(a.co2e_kg for a in bergen) == pytest.approx(2 * bergen_km * 0.13)
    assert sum(a.travel_cost_kr for a in bergen) == pytest.approx(2 * bergen_km * 3.00)
    assert sum(a.patient_kr for a in bergen) == pytest.approx(2 * bergen_km * 3.00)
    assert sum(a.health_sector_kr for a in bergen) == 0.0
    drive = 5.5 + 0.91 * bergen_km
    assert bergen[0].hours == pytest.approx(2 * drive / 60)


def test_taxi_is_shared_and_paid_by_pasientreiser(ref: ReferenceData, factors: FactorSet) -> None:
    travellers = [
        _patient("5722", "taxi_pasientreiser"),
        TravellerInput("5722", would_travel=True, mode="taxi_pasientreiser", escort=True),
    ]
    t = travel_avoided(travellers, "haukeland", "home", None, ref, factors).totals
    taxi = 2 * 55 * 15.0  # one taxi, Vaksdal
    assert t.vehicle_km == pytest.approx(110.0)
    assert t.co2e_kg == pytest.approx(2 * 55 * 0.1502)
    assert t.travel_cost_kr == pytest.approx(taxi)
    assert t.patient_kr == pytest.approx(342.0)
    assert t.health_sector_kr == pytest.approx(taxi - 342.0)


def test_child_pays_no_egenandel(ref: ReferenceData, factors: FactorSet) -> None:
    t = travel_avoided(
        [_patient("5947", under_16=True)], "haukeland", "home", None, ref, factors
    ).totals
    assert t.patient_kr == 0.0
    assert t.health_sector_kr == pytest.approx(2 * 72.5 * 3.00)


def test_ambulance_is_counted_in_km_and_co2_but_not_costed(
    ref: ReferenceData, factors: FactorSet
) -> None:
    result = travel_avoided(
        [_patient("5729", "ambulance")], "haukeland", "home", None, ref, factors
    )
    assert result.not_costed == ("ambulance",)
    assert result.totals.co2e_kg == pytest.approx(2 * 90 * 0.27)
    assert result.totals.travel_cost_kr == 0.0
    assert result.totals.health_sector_kr == 0.0


def test_traveller_who_would_not_have_travelled_counts_nothing(
    ref: ReferenceData, factors: FactorSet
) -> None:
    stay = TravellerInput("5914", would_travel=False, mode="car", is_patient=True)
    result = travel_avoided([stay], "haukeland", "home", None, ref, factors)
    assert result.travellers[0].counted is False
    assert result.totals.person_km == 0.0
    assert result.totals.societal_kr == 0.0


def test_value_of_time_switches_above_70_km(ref: ReferenceData, factors: FactorSet) -> None:
    # Vaksdal 55 km: short; Austrheim 75 km: long. Bus uses public-transport values.
    short = travel_avoided([_patient("5722", "bus")], "haukeland", "home", None, ref, factors)
    long = travel_avoided([_patient("5943", "bus")], "haukeland", "home", None, ref, factors)
    assert short.totals.time_value_kr == pytest.approx(2 * 50 / 60 * 54)
    assert long.totals.time_value_kr == pytest.approx(2 * 70 / 60 * 85)


def test_money_perspectives_are_not_added_together(ref: ReferenceData, factors: FactorSet) -> None:
    travellers = [
        _patient("5947"),
        TravellerInput("5947", would_travel=True, mode="car", escort=True, works=True),
        TravellerInput("5009", would_travel=True, mode="bus"),
    ]
    t = travel_avoided(travellers, "haraldsplass", "home", None, ref, factors).totals
    # every krone of travel is paid by exactly one side; compensation is a transfer on top
    assert t.health_sector_kr + t.patient_kr == pytest.approx(
        t.travel_cost_kr + t.escort_compensation_kr
    )
    assert t.societal_kr == pytest.approx(t.travel_cost_kr + t.time_value_kr)


def test_haraldsplass_uses_its_own_routes(ref: ReferenceData, factors: FactorSet) -> None:
    to_haukeland = travel_avoided([_patient("5914")], "haukeland", "home", None, ref, factors)
    to_haraldsplass = travel_avoided([_patient("5914")], "haraldsplass", "home", None, ref, factors)
    assert to_haraldsplass.travellers[0].hospital_leg.road_km == pytest.approx(30.8)
    assert to_haraldsplass.totals.person_km != to_haukeland.totals.person_km


def test_unknown_hospital_is_refused(ref: ReferenceData, factors: FactorSet) -> None:
    with pytest.raises(InvalidInput) as caught:
        travel_avoided([_patient("5914")], "voss", "home", None, ref, factors)
    assert caught.value.field == "hospital"


# --------------------------------------------------------------------------- local trip


def test_local_trip_within_the_municipality_is_subtracted(
    ref: ReferenceData, factors: FactorSet
) -> None:
    # Fedje patient joins from the GP office on Fedje: local leg 1.0 km × 1.6, no ferry.
    result = travel_avoided([_patient("5947")], "haukeland", "gp_office", "4633", ref, factors)
    local_km = 1.0 * 1.6
    local_min = 5.5 + 0.91 * local_km
    traveller = result.travellers[0]
    assert traveller.local_leg.road_km == pytest.approx(local_km)
    assert traveller.local_trip.co2e_kg == pytest.approx(2 * local_km * 0.13)
    t = result.totals
    assert t.person_km == pytest.approx(160.0 - 2 * local_km)
    assert t.hours == pytest.approx(4.0 - 2 * local_min / 60)
    assert t.co2e_kg == pytest.approx(2 * (72.5 * 0.13 + 7.5 * 0.1295) - 2 * local_km * 0.13)
    # the local leg (4.80 kr) is below the egenandel: the patient pays it all
    assert t.patient_kr == pytest.approx(342.0 - 2 * local_km * 3.00)
    assert t.health_sector_kr == pytest.approx(93.0)


def _haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    dl = math.radians(b[1] - a[1])
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def test_local_trip_to_another_municipality_takes_the_ferry(
    ref: ReferenceData, factors: FactorSet
) -> None:
    # Fedje patient joins from the health house in Alver: centroid to centroid × 1.6, and the
    # Fedje ferry (7.5 km, 45 min) that Alver does not need.
    fedje, alver = (60.7810, 4.7174), (60.6004, 5.2190)
    local_road = _haversine(fedje, alver) * 1.6 - 7.5
    result = travel_avoided([_patient("5947")], "haukeland", "institution", "4631", ref, factors)
    leg = result.travellers[0].local_leg
    assert leg.road_km == pytest.approx(local_road)
    assert leg.ferry_km == pytest.approx(7.5)
    assert leg.ferry_min == pytest.approx(45.0)
    expected_local_co2 = 2 * (local_road * 0.13 + 7.5 * 0.1295)
    assert result.totals.co2e_kg == pytest.approx(
        2 * (72.5 * 0.13 + 7.5 * 0.1295) - expected_local_co2
    )


def test_only_patient_and_escort_make_the_local_trip(
    ref: ReferenceData, factors: FactorSet
) -> None:
    travellers = [
        _patient("5914"),
        TravellerInput("5914", would_travel=True, mode="car", escort=True),
        TravellerInput("5009", would_travel=True, mode="car"),
    ]
    result = travel_avoided(travellers, "haukeland", "gp_office", "4631", ref, factors)
    made_local_trip = [r.local_trip.person_km > 0 for r in result.travellers]
    assert made_local_trip == [True, True, False]
    # patient and escort share one car locally too
    assert result.travellers[0].local_trip.vehicle_km == pytest.approx(9.3 * 1.6)


def test_institution_that_is_home_subtracts_nothing(ref: ReferenceData, factors: FactorSet) -> None:
    at_home = travel_avoided([_patient("5981")], "haukeland", "home", None, ref, factors)
    at_nursing_home = travel_avoided(
        [_patient("5981")], "haukeland", "institution", None, ref, factors
    )
    assert at_nursing_home.totals == at_home.totals


@pytest.mark.parametrize(
    ("location", "site", "field"),
    [
        ("home", "4631", "local_site_municipality"),
        ("gp_office", None, "local_site_municipality"),
        ("gp_office", "0301", "local_site_municipality"),
        ("hospital", None, "patient_location"),
    ],
)
def test_inconsistent_location_is_refused(
    location: str, site: str | None, field: str, ref: ReferenceData, factors: FactorSet
) -> None:
    with pytest.raises(InvalidInput) as caught:
        travel_avoided([_patient("5914")], "haukeland", location, site, ref, factors)  # type: ignore[arg-type]
    assert caught.value.field == field


# --------------------------------------------------------------------------- postal codes


def test_postal_code_resolves_to_its_2024_municipality(ref: ReferenceData) -> None:
    assert municipality_for_postal_code(ref, "5914").name == "Alver"
    assert municipality_for_postal_code(ref, " 5947 ").number == "4633"


@pytest.mark.parametrize("postnr", ["0001", "9999", "59", "abcd", ""])
def test_unknown_postal_code_is_invalid_input(postnr: str, ref: ReferenceData) -> None:
    with pytest.raises(InvalidInput) as caught:
        municipality_for_postal_code(ref, postnr)
    assert caught.value.field == "postal_code"


def test_unknown_postal_code_of_a_traveller_is_refused(
    ref: ReferenceData, factors: FactorSet
) -> None:
    with pytest.raises(InvalidInput) as caught:
        travel_avoided([_patient("0150")], "haukeland", "home", None, ref, factors)
    assert caught.value.field == "postal_code"


def test_patient_cannot_be_escort() -> None:
    with pytest.raises(InvalidInput):
        TravellerInput("5914", would_travel=True, mode="car", is_patient=True, escort=True)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        TravellerInput("5914", would_travel=True, mode="plane")  # type: ignore[arg-type]
    assert caught.value.field == "mode"


# --------------------------------------------------------------------------- factor set


SHIPPED_HASHES = {
    # version → content hash prefix; an edit of factors.json without a new version fails here
    "2024.1": "844a71c3dcf5",
}


def test_shipped_version_matches_its_content(factors: FactorSet) -> None:
    assert factors.id == "samkons-green-health"
    assert factors.modified is False
    assert factors.content_hash.startswith(SHIPPED_HASHES[factors.version])
    assert factors.valid_from.isoformat() == "2024-01-01"


def test_override_changes_totals_and_version(ref: ReferenceData) -> None:
    shipped = load_factor_set()
    dirty = load_factor_set({"ef_car_kg_per_vkm": 0.19})
    assert dirty.modified is True
    assert dirty.version.startswith("2024.1+mod.")
    assert dirty.version != shipped.version
    assert dirty.factors["ef_car_kg_per_vkm"].estimate is True
    assert "override" in dirty.factors["ef_car_kg_per_vkm"].source

    base = travel_avoided([_patient("5914")], "haukeland", "home", None, ref, shipped)
    changed = travel_avoided([_patient("5914")], "haukeland", "home", None, ref, dirty)
    assert changed.totals.co2e_kg == pytest.approx(2 * 32 * 0.19)
    assert base.totals.co2e_kg == pytest.approx(2 * 32 * 0.13)
    assert changed.factor_set_version == dirty.version
    assert base.factor_set_version == "2024.1"


def test_same_overrides_give_the_same_version() -> None:
    a = load_factor_set({"pasientreiser_rate_kr_per_km": 3.5, "detour_factor": 1.4})
    b = load_factor_set({"detour_factor": 1.4, "pasientreiser_rate_kr_per_km": 3.5})
    c = load_factor_set({"detour_factor": 1.5, "pasientreiser_rate_kr_per_km": 3.5})
    assert a.version == b.version
    assert a.version != c.version


def test_override_equal_to_shipped_value_is_not_a_modification() -> None:
    same = load_factor_set({"egenandel_kr_per_leg": 171})
    assert same.modified is False
    assert same.version == "2024.1"
    assert dict(same.overrides) == {}


def test_detour_override_moves_straight_line_municipalities_only(
    ref: ReferenceData,
) -> None:
    longer = load_factor_set({"detour_factor": 2.0})
    bergen = travel_avoided([_patient("5009")], "haukeland", "home", None, ref, longer)
    alver = travel_avoided([_patient("5914")], "haukeland", "home", None, ref, longer)
    assert bergen.travellers[0].hospital_leg.road_km == pytest.approx(6.5 * 2.0)
    assert bergen.travellers[0].hospital_leg.drive_min == pytest.approx(5.5 + 0.91 * 13.0)
    assert alver.travellers[0].hospital_leg.road_km == pytest.approx(32.0)  # estimate table


def test_ferry_municipality_outside_the_table_takes_the_ferry_out_of_the_route(
    ref: ReferenceData, factors: FactorSet
) -> None:
    # Austevoll: 35.6 km straight × 1.6 = 56.96 km route, of which the ferry is 10 km.
    leg = (
        travel_avoided([_patient("5392", "bus")], "haukeland", "home", None, ref, factors)
        .travellers[0]
        .hospital_leg
    )
    assert leg.road_km == pytest.approx(35.6 * 1.6 - 10.0)
    assert leg.ferry_min == pytest.approx(50.0)


@pytest.mark.parametrize(
    "overrides",
    [
        {"no_such_factor": 1.0},
        {"ef_car_kg_per_vkm": -0.1},
        {"ef_car_kg_per_vkm": float("nan")},
        {"detour_factor": 0.9},
    ],
)
def test_bad_overrides_are_refused(overrides: dict[str, float]) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_factor_set(overrides)
    assert caught.value.field == f"factors.{next(iter(overrides))}"


# --------------------------------------------------------------------------- aggregation


def test_aggregate_sums_and_names_the_factor_sets(ref: ReferenceData, factors: FactorSet) -> None:
    alver = travel_avoided([_patient("5914")], "haukeland", "home", None, ref, factors)
    fedje = travel_avoided([_patient("5947")], "haukeland", "home", None, ref, factors)
    totals = aggregate_travel_avoided([alver, fedje])
    assert totals.consultations == 2
    assert totals.travellers_counted == 2
    assert totals.totals.person_km == pytest.approx(64.0 + 160.0)
    assert totals.totals.health_sector_kr == pytest.approx(0.0 + 93.0)
    assert totals.factor_sets == (("samkons-green-health", "2024.1"),)
    assert totals.mixed_factor_sets is False

    other = travel_avoided(
        [_patient("5914", "ambulance")],
        "haukeland",
        "home",
        None,
        ref,
        load_factor_set({"detour_factor": 1.3}),
    )
    mixed = aggregate_travel_avoided([alver, other])
    assert mixed.mixed_factor_sets is True
    assert mixed.not_costed == ("ambulance",)


def test_aggregate_of_nothing_is_zero() -> None:
    empty = aggregate_travel_avoided(iter(list[TravelAvoided]()))
    assert empty.consultations == 0
    assert empty.totals.societal_kr == 0.0


# --------------------------------------------------------------------------- data integrity


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_postal_code_maps_to_a_listed_municipality() -> None:
    municipalities = {row["kommunenr"] for row in _rows("municipalities.csv")}
    postal = _rows("postal_codes.csv")
    assert len(postal) > 400
    assert {row["kommunenr"] for row in postal} == municipalities
    assert len({row["postnr"] for row in postal}) == len(postal)
    for row in postal:
        assert row["kommunenr"] in municipalities, row["postnr"]
        assert 59.5 < float(row["lat"]) < 61.5 and 4.5 < float(row["lon"]) < 8.0, row["postnr"]


def test_every_municipality_has_routes_to_both_hospitals() -> None:
    hospitals = [row["id"] for row in _rows("hospitals.csv")]
    assert hospitals == ["haukeland", "haraldsplass"]
    for row in _rows("municipalities.csv"):
        assert row["distance_basis"] in ("estimate_table", "straight_line_x_factor")
        for hospital in hospitals:
            assert float(row[f"{hospital}_road_km"]) > 0, (row["name"], hospital)
            assert float(row[f"{hospital}_drive_min"]) > 0, (row["name"], hospital)
            assert float(row[f"{hospital}_ferry_km"]) >= 0
            assert float(row[f"{hospital}_ferry_min"]) >= 0
            assert float(row[f"{hospital}_straight_km"]) > 0


def test_municipality_list_covers_nordhordland_and_helse_bergen() -> None:
    rows = {row["kommunenr"]: row for row in _rows("municipalities.csv")}
    assert 18 <= len(rows) <= 22
    nordhordland = {n for n, row in rows.items() if row["region_nordhordland"] == "true"}
    assert nordhordland == {
        "4628",
        "4629",
        "4630",
        "4631",
        "4632",
        "4633",
        "4634",
        "4635",
    }
    assert {row["distance_basis"] for n, row in rows.items() if n in nordhordland} == {
        "estimate_table"
    }
    assert {"4601", "4627", "4626", "4624", "4625", "4623", "4621"} <= rows.keys()
    assert rows["4635"]["helse_bergen_area"] == "uncertain"


def test_straight_line_rows_follow_the_documented_rule() -> None:
    for row in _rows("municipalities.csv"):
        if row["distance_basis"] != "straight_line_x_factor":
            continue
        for hospital in ("haukeland", "haraldsplass"):
            road = max(
                0.0,
                float(row[f"{hospital}_straight_km"]) * DETOUR - float(row[f"{hospital}_ferry_km"]),
            )
            assert float(row[f"{hospital}_road_km"]) == pytest.approx(road, abs=0.06)
            drive = DRIVE_BASE + DRIVE_PER_KM * float(row[f"{hospital}_road_km"])
            assert float(row[f"{hospital}_drive_min"]) == pytest.approx(drive, abs=0.06)


def test_every_factor_has_a_source_year_unit_and_role() -> None:
    document = json.loads((DATA_DIR / "factors.json").read_text(encoding="utf-8"))
    assert {"id", "version", "valid_from"} <= document["factor_set"].keys()
    for name, factor in document["factors"].items():
        assert factor["source"].strip(), name
        assert factor["unit"].strip(), name
        assert 2000 < factor["year"] < 2100, name
        assert factor["role"] in ("calculation", "derivation", "reference"), name
        assert isinstance(factor["estimate"], bool), name
    estimates = {n for n, f in document["factors"].items() if f["estimate"]}
    assert {
        "ef_car_kg_per_vkm",
        "ef_ambulance_kg_per_vkm",
        "taxi_cost_kr_per_vkm",
        "detour_factor",
    } <= estimates


def test_test_constants_match_the_shipped_factor_set(factors: FactorSet) -> None:
    # The literal values above are the documented ones; this pins them to the file.
    assert factors.value("pasientreiser_rate_kr_per_km") == RATE
    assert factors.value("egenandel_kr_per_leg") == EGENANDEL
    assert factors.value("ef_car_kg_per_vkm") == EF_ROAD["car"]
    assert factors.value("ef_ambulance_kg_per_vkm") == EF_ROAD["ambulance"]
    assert factors.value("detour_factor") == DETOUR == derive.DETOUR_FACTOR
    assert factors.value("drive_minutes_base") == DRIVE_BASE == derive.DRIVE_MINUTES_BASE
    assert factors.value("drive_minutes_per_km") == DRIVE_PER_KM == derive.DRIVE_MINUTES_PER_KM


def test_every_data_file_has_its_sources_documented() -> None:
    sources = (DATA_DIR / "SOURCES.md").read_text(encoding="utf-8")
    for name in (
        "municipalities.csv",
        "postal_codes.csv",
        "hospitals.csv",
        "factors.json",
    ):
        assert f"`{name}`" in sources
    assert "www.erikbolstad.no/postnummer/" in sources
    assert "CC BY 3.0" in sources
    assert "ESTIMATE" in sources


def test_loader_rejects_a_postal_code_in_an_unlisted_municipality(
    tmp_path: Path,
) -> None:
    for name in ("municipalities.csv", "hospitals.csv"):
        (tmp_path / name).write_text(
            (DATA_DIR / name).read_text(encoding="utf-8"), encoding="utf-8"
        )
    (tmp_path / "postal_codes.csv").write_text(
        "postnr,poststed,kommunenr,category,lat,lon,population\n0150,OSLO,0301,G,59.9,10.7,\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="unlisted municipality"):
        load_reference_data(tmp_path)


# --------------------------------------------------------------------------- geometry, derivation


def test_straight_line_matches_the_shared_joined_file() -> None:
    # nordhordland_postnr_kommune_coords.csv: 5914 Isdalstø is 19.8 km from Haukeland.
    assert straight_line_km(Coordinate(60.548, 5.2937), Coordinate(60.373, 5.357)) == pytest.approx(
        19.8, abs=0.05
    )


def test_derivation_joins_on_postal_code_and_weights_by_population(
    tmp_path: Path,
) -> None:
    bring = tmp_path / "bring.tsv"
    bring.write_text(
        "5914\tISDALSTØ\t4631\tALVER\tG\n5918\tFREKHAUG\t4631\tALVER\tG\n0001\tOSLO\t0301\tOSLO\tP\n",
        encoding="utf-8",
    )
    bolstad = tmp_path / "bolstad.tsv"
    header = "POSTNR\tFOLKETAL\tKOMMNR\tLAT\tLON\n"
    bolstad.write_text(
        header + "5914\t100\t1263\t60.0\t5.0\n5918\t300\t1263\t61.0\t6.0\n",
        encoding="utf-8",
    )
    rows = derive.join_postal_codes(
        derive.read_bring(bring), derive.read_bolstad(bolstad), ["4631"]
    )
    assert [(r.postnr, r.kommunenr) for r in rows] == [
        ("5914", "4631"),
        ("5918", "4631"),
    ]
    centroid = derive.weighted_centroid(derive.population_weights(rows))
    assert (centroid.lat, centroid.lon) == pytest.approx((60.75, 5.75))


def test_derivation_refuses_a_postal_code_without_coordinates(tmp_path: Path) -> None:
    bring = tmp_path / "bring.tsv"
    bring.write_text("5914\tISDALSTØ\t4631\tALVER\tG\n", encoding="utf-8")
    bolstad = tmp_path / "bolstad.tsv"
    bolstad.write_text("POSTNR\tFOLKETAL\tKOMMNR\tLAT\tLON\n", encoding="utf-8")
    with pytest.raises(ValueError, match="5914"):
        derive.join_postal_codes(derive.read_bring(bring), derive.read_bolstad(bolstad), ["4631"])


def test_detour_factor_is_the_rounded_median_of_the_table() -> None:
    ratios = sorted(derive.detour_ratios())
    median = (ratios[3] + ratios[4]) / 2
    assert median == pytest.approx(1.63, abs=0.01)
    assert round(median, 1) == DETOUR
