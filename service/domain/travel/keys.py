"""The travel key: travel inputs recorded at booking, as the anonymous facts statistics need.

This module owns the `travel_key` written on each joint consultation: the hospital, where the
patient took part from, and for the patient and each relative their home municipality, usual
mode of travel and the escort/works/would-travel flags. It names municipalities, never postal
codes or people, so it outlives retention the way `municipality_number` does.

The «grønn helse» calculation (`service.domain.travel.calculation`) depends on a postal code
only through its municipality, so a consultation's travel avoided is a function of (travel_key,
the patient's confirmed survey answer). Statistics count consultations per key and answer in SQL
and run the calculation once per key (`TravelPerKey`, which the app keeps for its factor set),
which stays fast however many consultations there are.

Everyone's trip hangs on the patient's: when the patient would not have travelled (as assumed at
booking or as answered afterwards), nobody would, so nothing is counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Literal, NamedTuple

from service.domain.errors import InvalidInput
from service.domain.travel.calculation import (
    MODES,
    PATIENT_LOCATIONS,
    Amounts,
    Mode,
    PatientLocation,
    TravelAvoided,
    TravellerInput,
    travel_avoided,
)
from service.domain.travel.factors import FactorSet
from service.domain.travel.reference import ReferenceData

KEY_VERSION = "t1"
TravellerRole = Literal["patient", "relative"]
_ROLE_CODES: dict[TravellerRole, str] = {"patient": "P", "relative": "R"}
_CODE_ROLES: dict[str, TravellerRole] = {"P": "patient", "R": "relative"}


@dataclass(frozen=True, slots=True)
class Traveller:
    """One person who might have travelled. For the patient, `escort` means an escort (such as
    home-care staff) would have come along; for a relative, that the relative was the escort."""

    role: TravellerRole
    municipality: str
    mode: Mode
    would_travel: bool
    escort: bool = False
    works: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown travel mode {self.mode!r}")
        if not (len(self.municipality) == 4 and self.municipality.isdigit()):
            raise ValueError(f"not a municipality number: {self.municipality!r}")


@dataclass(frozen=True, slots=True)
class TravelFacts:
    hospital: str
    patient_location: PatientLocation
    local_site_municipality: str | None
    patient: Traveller
    relatives: tuple[Traveller, ...] = ()

    def __post_init__(self) -> None:
        if self.patient_location not in PATIENT_LOCATIONS:
            raise ValueError(f"unknown patient location {self.patient_location!r}")
        if self.patient.role != "patient" or any(r.role != "relative" for r in self.relatives):
            raise ValueError("the first traveller is the patient, the rest are relatives")
        if any(c in self.hospital for c in "|;:"):
            raise ValueError(f"hospital code {self.hospital!r} cannot be part of a key")


def local_site_for(
    patient_location: PatientLocation, gp_office_municipality: str | None
) -> str | None:
    """Where the subtracted local trip goes: the GP office's municipality for `gp_office`.

    The booking does not say which institution a patient joined from; it is taken to be where
    they live (a nursing home), so nothing is subtracted for `institution` or `home`.
    """
    return gp_office_municipality if patient_location == "gp_office" else None


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _encode_traveller(t: Traveller) -> str:
    flags = _flag(t.would_travel) + _flag(t.escort) + _flag(t.works)
    return f"{_ROLE_CODES[t.role]}:{t.municipality}:{t.mode}:{flags}"


def encode_travel_key(facts: TravelFacts) -> str:
    """A canonical text key: equal facts give equal keys (relatives in sorted order)."""
    relatives = sorted(_encode_traveller(r) for r in facts.relatives)
    travellers = ";".join([_encode_traveller(facts.patient), *relatives])
    site = facts.local_site_municipality or "-"
    return f"{KEY_VERSION}|{facts.hospital}|{facts.patient_location}|{site}|{travellers}"


def _decode_traveller(text: str) -> Traveller:
    role_code, municipality, mode, flags = text.split(":")
    if role_code not in _CODE_ROLES or len(flags) != 3 or set(flags) - {"0", "1"}:
        raise ValueError(f"malformed traveller {text!r}")
    if mode not in MODES:
        raise ValueError(f"unknown travel mode {mode!r}")
    return Traveller(
        role=_CODE_ROLES[role_code],
        municipality=municipality,
        mode=next(m for m in MODES if m == mode),
        would_travel=flags[0] == "1",
        escort=flags[1] == "1",
        works=flags[2] == "1",
    )


def decode_travel_key(key: str) -> TravelFacts:
    """The facts behind a key; ValueError if it is not one this module wrote."""
    try:
        version, hospital, location, site, travellers = key.split("|")
    except ValueError as exc:
        raise ValueError(f"malformed travel key {key!r}") from exc
    if version != KEY_VERSION:
        raise ValueError(f"unknown travel key version {version!r}")
    if location not in PATIENT_LOCATIONS:
        raise ValueError(f"unknown patient location {location!r}")
    people = [_decode_traveller(t) for t in travellers.split(";")]
    return TravelFacts(
        hospital=hospital,
        patient_location=next(p for p in PATIENT_LOCATIONS if p == location),
        local_site_municipality=None if site == "-" else site,
        patient=people[0],
        relatives=tuple(people[1:]),
    )


def with_patient_answer(facts: TravelFacts, would_travel: bool | None) -> TravelFacts:
    """The facts corrected by the patient's survey answer (None: no answer, as booked)."""
    if would_travel is None:
        return facts
    return replace(facts, patient=replace(facts.patient, would_travel=would_travel))


def representative_postal_codes(ref: ReferenceData) -> dict[str, str]:
    """One postal code per municipality: the calculation only uses a code's municipality."""
    codes: dict[str, str] = {}
    for code in sorted(ref.postal_codes):
        codes.setdefault(ref.postal_codes[code].municipality_number, code)
    return codes


def traveller_inputs(facts: TravelFacts, postal_codes: Mapping[str, str]) -> list[TravellerInput]:
    """The calculation's inputs: the patient, the patient's escort if any, then relatives."""
    patient_goes = facts.patient.would_travel

    def one(t: Traveller, *, is_patient: bool, escort: bool, works: bool) -> TravellerInput:
        return TravellerInput(
            postal_code=postal_codes[t.municipality],
            would_travel=patient_goes and (is_patient or escort or t.would_travel),
            mode=t.mode,
            escort=escort,
            works=works,
            is_patient=is_patient,
        )

    p = facts.patient
    inputs = [one(p, is_patient=True, escort=False, works=p.works)]
    if p.escort:
        # Home-care staff travel in working time and are not compensated by Pasientreiser.
        inputs.append(one(p, is_patient=False, escort=True, works=False))
    inputs += [one(r, is_patient=False, escort=r.escort, works=r.works) for r in facts.relatives]
    return inputs


def travel_for_facts(
    facts: TravelFacts,
    ref: ReferenceData,
    factors: FactorSet,
    postal_codes: Mapping[str, str],
) -> TravelAvoided:
    return travel_avoided(
        traveller_inputs(facts, postal_codes),
        facts.hospital,
        facts.patient_location,
        facts.local_site_municipality,
        ref,
        factors,
    )


AMOUNT_FIELDS = tuple(f.name for f in fields(Amounts))
Vector = tuple[float, ...]
NO_TRAVEL: Vector = (0.0,) * len(AMOUNT_FIELDS)


def _vector(amounts: Amounts) -> Vector:
    return tuple(getattr(amounts, name) for name in AMOUNT_FIELDS)


class KeyTravel(NamedTuple):
    """One consultation's travel avoided, for one travel key: as booked, and as confirmed when
    the patient answered that they would (`if_yes`) or would not (`if_no`) have travelled."""

    assumed: Vector
    if_yes: Vector
    if_no: Vector
    not_costed: tuple[str, ...]


class TravelPerKey:
    """The travel calculation per travel key under one factor set, done once per key and kept.

    The factor set and reference data are fixed for the life of an app (an override is read at
    start), so kept values cannot go stale; the app holds one instance, and a report made with
    other factors gets a new one.
    """

    def __init__(self, ref: ReferenceData, factors: FactorSet) -> None:
        self.ref = ref
        self.factors = factors
        self._postal_codes = representative_postal_codes(ref)
        self._known: dict[str, KeyTravel] = {}

    def __call__(self, travel_key: str) -> KeyTravel:
        known = self._known.get(travel_key)
        if known is None:
            known = self._known[travel_key] = self._calculate(travel_key)
        return known

    def _calculate(self, travel_key: str) -> KeyTravel:
        try:
            facts = decode_travel_key(travel_key)
            assumed = travel_for_facts(facts, self.ref, self.factors, self._postal_codes)
            answered = [
                # Most patients were booked as travelling: a yes changes nothing for them.
                assumed
                if with_patient_answer(facts, answer) == facts
                else travel_for_facts(
                    with_patient_answer(facts, answer), self.ref, self.factors, self._postal_codes
                )
                for answer in (True, False)
            ]
        except (ValueError, InvalidInput):
            # A key from older reference data that no longer resolves counts as no travel.
            return KeyTravel(NO_TRAVEL, NO_TRAVEL, NO_TRAVEL, ())
        return KeyTravel(
            _vector(assumed.totals),
            _vector(answered[0].totals),
            _vector(answered[1].totals),
            assumed.not_costed,
        )
