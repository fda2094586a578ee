"""Screening missions, facilities, capacity reports, cost policies, agreements and patients."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from medevac.domain import patients as patients_module
from medevac.domain.agreements import Agreement
from medevac.domain.errors import InvalidValue
from medevac.domain.facilities import CapacityReport, CostPolicy, Facility
from medevac.domain.geography import Coordinates, country_code
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.organisations import Organisation
from medevac.domain.patients import Identity, Patient, latest_today
from medevac.domain.screening import ScreeningDecision, ScreeningMission, ScreeningOutcome
from medevac.domain.vocabulary import (
    Capability,
    FacilityKind,
    HaveBedType,
    Mobility,
    OrganisationKind,
    Precedence,
    SpecialNeed,
    Specialty,
)
from tests.unit.domain.factories import T0


def mission() -> ScreeningMission:
    m = ScreeningMission("SCR-1", "ORG-B", "Lviv", T0.date(), T0.date() + timedelta(days=3))
    for p in ("P1", "P2", "P3", "P4"):
        m.add_candidate(p)
    return m


def test_mission_counts_examined_selected_deferred_declined() -> None:
    m = mission()
    m.decide("P1", ScreeningDecision(ScreeningOutcome.SELECT, "dr.a", "", T0))
    m.decide("P2", ScreeningDecision(ScreeningOutcome.DEFER, "dr.a", "reassess in 2 weeks", T0))
    m.decide("P3", ScreeningDecision(ScreeningOutcome.DECLINE, "dr.b", "treatable at home", T0))
    report = m.report()
    assert (report.candidates, report.examined, report.pending) == (4, 3, 1)
    assert (report.selected, report.deferred, report.declined) == (1, 1, 1)


def test_a_decline_at_screening_needs_criteria_notes() -> None:
    with pytest.raises(InvalidValue, match="criteria_notes"):
        ScreeningDecision(ScreeningOutcome.DECLINE, "dr.b", "", T0)


def test_a_decision_names_the_clinician() -> None:
    with pytest.raises(InvalidValue, match="clinician"):
        ScreeningDecision(ScreeningOutcome.SELECT, " ", "", T0)


def test_a_decision_outside_the_mission_dates_is_refused() -> None:
    late = T0 + timedelta(days=10)
    with pytest.raises(InvalidValue, match="outside the mission's dates"):
        mission().decide("P1", ScreeningDecision(ScreeningOutcome.SELECT, "dr", "", late))


def test_a_decision_is_checked_on_the_day_it_is_given_in_and_kept_in_utc() -> None:
    # 23:30 on the mission's last day at UTC+9 is 14:30 UTC the same day; 01:00 the day after
    # the mission at UTC+9 is still within it in UTC, and is refused (the day is the cell's)
    tokyo = timezone(timedelta(hours=9))
    last = T0.date() + timedelta(days=3)
    m = mission()
    given = datetime.combine(last, time(23, 30), tzinfo=tokyo)
    kept = m.decide("P1", ScreeningDecision(ScreeningOutcome.SELECT, "dr", "", given))
    assert kept.decided_at == given
    assert kept.decided_at.utcoffset() == timedelta(0)
    assert m.candidates["P1"] == kept
    after = datetime.combine(last + timedelta(days=1), time(1, 0), tzinfo=tokyo)
    with pytest.raises(InvalidValue, match="outside the mission's dates"):
        m.decide("P2", ScreeningDecision(ScreeningOutcome.SELECT, "dr", "", after))


@pytest.mark.parametrize("notes", ["reassess\x00", "reassess \udcff", "\x1b[2Jreassess"])
def test_criteria_notes_with_a_control_character_are_refused(notes: str) -> None:
    with pytest.raises(InvalidValue, match=r"^criteria_notes: "):
        ScreeningDecision(ScreeningOutcome.DEFER, "dr", notes, T0)


def test_criteria_notes_may_hold_line_breaks_and_tabs() -> None:
    notes = "open fracture\n\tneeds a second look in 2 weeks"
    assert ScreeningDecision(ScreeningOutcome.DEFER, "dr", notes, T0).criteria_notes == notes


def test_capacity_report_staleness_is_derived_from_the_time_of_asking() -> None:
    report = CapacityReport("F1", Specialty.NEUROLOGY, 3, 10, 1, 2, reported_at=T0)
    assert not report.is_stale(T0 + timedelta(hours=23))
    assert report.is_stale(T0 + timedelta(hours=25))
    assert report.is_stale(T0 + timedelta(hours=3), stale_after=timedelta(hours=2))
    assert report.expected_available(72) == 5


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"available": -1}, "available"),
        ({"available": 30}, "available"),
        ({"plus_24h": -2}, "plus_24h"),
    ],
)
def test_impossible_capacity_figures_are_refused(kwargs: dict[str, int], field: str) -> None:
    values = {"available": 3, "baseline": 10, "plus_24h": 0, "plus_72h": 0} | kwargs
    with pytest.raises(InvalidValue, match=field):
        CapacityReport("F1", Specialty.NEUROLOGY, reported_at=T0, **values)


@pytest.mark.parametrize(
    ("tariff", "reason"),
    [
        ("NaN", "needs a tariff of 0 or more"),  # had raised decimal.InvalidOperation
        ("Infinity", "needs a tariff of 0 or more"),
        ("1E+20", "is more than 1,000,000,000"),  # PostgreSQL's column overflowed
        ("0.12345", "more than 4 decimal places"),  # PostgreSQL rounded, SQLite kept them
    ],
)
def test_tariffs_the_registry_cannot_store_alike_are_refused(tariff: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=f"^tariff_per_bed_day: .*{reason}"):
        CostPolicy.tariff(tariff, "EUR")


def test_cost_policy_prices_bed_days() -> None:
    assert CostPolicy.free().cost_of(30) == 0
    assert CostPolicy.tariff("450.50", "EUR").cost_of(10) == Decimal("4505.00")
    with pytest.raises(InvalidValue, match="currency"):
        CostPolicy.tariff(10, "XXY")


def test_facility_matches_needs_against_capabilities() -> None:
    field_hospital = Facility(
        "FH-1",
        "Field hospital",
        FacilityKind.EMT_TYPE_2,
        "ORG-B",
        "UA",
        Coordinates(49.99, 36.23),
        specialties=frozenset({Specialty.GENERAL_SURGERY}),
        capabilities=frozenset({Capability.PAEDIATRIC}),
        total_beds=100,
        daily_outpatient_throughput=420,
    )
    assert field_hospital.meets(frozenset({SpecialNeed.PAEDIATRIC}))
    assert field_hospital.unmet_needs(frozenset({SpecialNeed.VENTILATOR})) == [
        SpecialNeed.VENTILATOR
    ]


def test_only_field_hospitals_report_outpatient_throughput() -> None:
    with pytest.raises(InvalidValue, match="only field hospitals"):
        Facility(
            "H", "Hospital", FacilityKind.HOSPITAL, "ORG", "PL", Coordinates(52.2, 21.0),
            daily_outpatient_throughput=10,
        )  # fmt: skip


def test_countries_are_iso_3166() -> None:
    assert country_code("ukraine") == "UA"
    assert country_code("pol") == "PL"
    with pytest.raises(InvalidValue, match="not an ISO 3166"):
        Organisation("O", "Ministry", OrganisationKind.MINISTRY_OF_HEALTH, "Atlantis")


def test_haversine_distance_between_kyiv_and_warsaw() -> None:
    kyiv, warsaw = Coordinates(50.4501, 30.5234), Coordinates(52.2297, 21.0122)
    # Independent check by the spherical law of cosines on the same sphere.
    p1, p2 = math.radians(kyiv.lat), math.radians(warsaw.lat)
    dl = math.radians(warsaw.lon - kyiv.lon)
    central = math.acos(math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl))
    assert kyiv.distance_km(warsaw) == pytest.approx(6371.0088 * central, rel=1e-9)
    assert 680 < kyiv.distance_km(warsaw) < 700


def test_every_specialty_maps_to_a_have_bed_type() -> None:
    assert Specialty.BURNS.have_bed_type is HaveBedType.BURN
    assert Specialty.MAXILLOFACIAL_SURGERY.have_service is None
    assert all(s.have_bed_type in HaveBedType for s in Specialty)


def test_agreement_covers_specialties_while_in_force() -> None:
    agreement = Agreement(
        "AG-1", "ORG-A", "ORG-B", frozenset({Specialty.NEUROLOGY}), 24, CostPolicy.free(),
        date(2026, 1, 1), date(2026, 12, 31),
    )  # fmt: skip
    assert agreement.covers(Specialty.NEUROLOGY, date(2026, 6, 1))
    assert not agreement.covers(Specialty.NEUROLOGY, date(2027, 1, 1))
    assert not agreement.covers(Specialty.BURNS, date(2026, 6, 1))
    assert agreement.remaining_quota(20) == 4


def test_a_patient_needs_a_specialty_and_lists_each_once() -> None:
    def build(specialties: tuple[Specialty, ...]) -> Patient:
        return Patient("P", "ORG", specialties, Precedence.ROUTINE, Mobility.AMBULATORY)

    with pytest.raises(InvalidValue, match="at least one specialty"):
        build(())
    with pytest.raises(InvalidValue, match="twice"):
        build((Specialty.NEUROLOGY, Specialty.NEUROLOGY))
    assert build((Specialty.NEUROLOGY, Specialty.REHABILITATION)).primary_specialty == "neurology"


def test_seats_and_litters_of_a_patient_party() -> None:
    litter = Patient("P", "O", (Specialty.BURNS,), Precedence.URGENT, Mobility.LITTER, companions=2)
    assert (litter.litters_needed, litter.seats_needed) == (1, 2)


def _registry_records(**values: int) -> None:
    """Build one record of each kind with `values` given to whichever takes them."""
    patient = {
        k: v for k, v in values.items() if k in ("expected_length_of_stay_days", "companions")
    }
    Patient("P", "ORG", (Specialty.BURNS,), Precedence.URGENT, Mobility.LITTER, **patient)
    facility = {k: v for k, v in values.items() if k in ("total_beds", "daily_admission_limit")}
    Facility(
        "H", "Hospital", FacilityKind.HOSPITAL, "ORG", "PL", Coordinates(52.2, 21.0), **facility
    )
    beds = {k: v for k, v in values.items() if k in ("available", "baseline", "plus_72h")}
    CapacityReport(
        "F1", Specialty.NEUROLOGY, **({"available": 0, "baseline": 0} | beds), reported_at=T0
    )
    quota = values.get("quota", 1)
    Agreement("A", "O1", "O2", frozenset({Specialty.BURNS}), quota, CostPolicy.free(), T0.date())


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("expected_length_of_stay_days", 100_000),
        ("companions", 1_000_000),
        ("total_beds", 1_000_000),
        ("daily_admission_limit", 1_000_000),
        ("baseline", 1_000_000),
        ("plus_72h", 1_000_000),
        ("quota", 1_000_000),
    ],
)
def test_counts_and_days_above_the_planning_formats_limits_are_refused(
    field: str, limit: int
) -> None:
    # the limits of the allocation problem format: the registry may not hold what `plan
    # build` could not write, and PostgreSQL's integer columns hold them all
    _registry_records(**{field: limit})
    with pytest.raises(InvalidValue, match=f"{field}: {limit + 1:,} .* more than the {limit:,}"):
        _registry_records(**{field: limit + 1})


def test_ids_and_short_texts_longer_than_the_registry_stores_are_refused() -> None:
    # PostgreSQL refused them naming neither field nor record; SQLite stored them whole
    long_id, long_text = "I" * 101, "T" * 201
    where = Coordinates(52.2, 21.0)
    attempts = {
        "id": lambda: Organisation(long_id, "Ministry", OrganisationKind.MINISTRY_OF_HEALTH, "UA"),
        "name": lambda: Facility("H", long_text, FacilityKind.HOSPITAL, "ORG", "PL", where),
        "city": lambda: Facility(
            "H", "H", FacilityKind.HOSPITAL, "ORG", "PL", where, city=long_text
        ),
        "operator_id": lambda: Facility("H", "H", FacilityKind.HOSPITAL, long_id, "PL", where),
        "location_id": lambda: Patient(
            "P", "ORG", (Specialty.BURNS,), Precedence.URGENT, Mobility.LITTER, location_id=long_id
        ),
        "actor": lambda: Patient(
            "P", "ORG", (Specialty.BURNS,), Precedence.URGENT, Mobility.LITTER
        ).transition_to(PatientStatus.SCREENING, actor=long_text, at=T0),
        "place": lambda: ScreeningMission("S", "ORG", long_text, T0.date(), T0.date()),
    }
    for field, attempt in attempts.items():
        with pytest.raises(InvalidValue, match=rf"^{field}: is \d+ characters long; at most"):
            attempt()
    # at the limit they pass
    Organisation("I" * 100, "T" * 200, OrganisationKind.MINISTRY_OF_HEALTH, "UA")


def test_ids_and_short_texts_with_control_characters_are_refused() -> None:
    # an ESC sequence in an id reached the terminal of whoever listed the record, and the
    # problem `plan build` wrote from it; a lone surrogate could be neither printed nor stored
    where = Coordinates(52.2, 21.0)
    for text, said in [
        ("ORG\x1b[2J", r"holds a control character \(U\+001B, character 4\)"),
        ("ORG\n2", r"holds a control character \(U\+000A, character 4\)"),
        ("ORG\ud800", r"is not valid Unicode text \(a lone surrogate\)"),
    ]:
        with pytest.raises(InvalidValue, match=rf"^id: {said}$"):
            Organisation(text, "Ministry", OrganisationKind.MINISTRY_OF_HEALTH, "UA")
        with pytest.raises(InvalidValue, match=rf"^city: {said}$"):
            Facility("H", "H", FacilityKind.HOSPITAL, "ORG", "PL", where, city=text)
    # spaces of other kinds and letters beyond ASCII are texts like any other
    Organisation("ORG-Ł\u00a01", "Міністерство", OrganisationKind.MINISTRY_OF_HEALTH, "UA")


def test_a_birth_date_is_refused_only_after_today_everywhere() -> None:
    # a newborn registered on the cell's today at UTC+14 was "born in the future" by the
    # machine's UTC date
    anywhere = (datetime.now(UTC) + timedelta(hours=14)).date()
    assert latest_today() == anywhere
    assert Identity(name="Newborn", birth_date=anywhere).birth_date == anywhere
    with pytest.raises(InvalidValue, match=r"birth_date: .* is in the future"):
        Identity(name="Newborn", birth_date=anywhere + timedelta(days=1))


def test_the_birth_date_check_takes_the_latest_today(monkeypatch: pytest.MonkeyPatch) -> None:
    # the check above cannot tell the machine's date from UTC+14's before 10:00 UTC: a day far
    # from both makes the check say which it takes
    monkeypatch.setattr(patients_module, "latest_today", lambda: date(2030, 1, 1))
    assert Identity(name="N", birth_date=date(2030, 1, 1)).birth_date == date(2030, 1, 1)
    with pytest.raises(InvalidValue, match=r"birth_date: 2030-01-02 is in the future"):
        Identity(name="N", birth_date=date(2030, 1, 2))
