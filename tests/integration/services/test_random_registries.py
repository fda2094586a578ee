"""Seeded random registries through the whole regulating cycle (SQLite and PostgreSQL).

Each registry has a few organisations whose ids hold odd characters, facilities of every kind
(field hospitals among them) with random specialties, capabilities, admission limits and
capacity reports (stale ones, several per specialty), agreements in force, lapsed or not yet
in force, with and without quotas, and patients in many statuses, some unfit to transport or
with no known location. For each: the built problem is valid, the exact engine's plan passes
the checker, the approval succeeds, the rebuilt problem carries every approved place as
`current` and solving it again moves nobody, a change made after a build refuses the
approval of its plan, and the next problem takes off the beds of patients accepted since (half
of the last plan's, and up to three it left unplaced, sent by treatment requests whose answers
name a facility and day) on exactly the days of their stays. Scratch versions of this ran
1,090 registries on SQLite and 100 on PostgreSQL (2026-12-05) without a fault.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest

from medevac.domain.agreements import Agreement
from medevac.domain.facilities import CapacityReport, CostPolicy, Facility
from medevac.domain.geography import Coordinates
from medevac.domain.lifecycle import ActorRole, PatientStatus
from medevac.domain.organisations import Organisation
from medevac.domain.patients import Patient
from medevac.domain.vocabulary import (
    Capability,
    FacilityKind,
    Mobility,
    OrganisationKind,
    Precedence,
    SpecialNeed,
    Specialty,
)
from medevac.planning import Plan, check_plan, parse_problem, solve_exact
from medevac.services import regulating
from medevac.services.auditing import utc_now
from medevac.services.patients import move_patient
from medevac.services.quota_count import quota_overruns
from medevac.services.regulating import (
    BuiltProblem,
    QuotaExceeded,
    RegistryChanged,
    approve_plan,
    build_problem,
)
from tests.integration.services.builders import UowFactory, accepted_request

pytestmark = pytest.mark.storage

ID_CHARACTERS = "Ab-_./ é9:"
STATUSES = [PatientStatus.SELECTED] * 6 + [
    PatientStatus.REFERRED,
    PatientStatus.REPORTED,
    PatientStatus.DIED,
    PatientStatus.ADMITTED,
]


def _id(rng: random.Random, prefix: str) -> str:
    odd = "".join(rng.choice(ID_CHARACTERS) for _ in range(rng.randint(1, 4)))
    return f"{prefix}{odd}{rng.randrange(10**6)}"


def _store_registry(
    uow_factory: UowFactory,
    rng: random.Random,
    now: datetime,
    agreements_between: tuple[int, int] = (0, 2),
    quotas: tuple[int | None, ...] = (None, 0, 2),
) -> None:
    """A random registry (module docstring) with ``agreements_between`` agreements (at least,
    at most), whose quotas are drawn from ``quotas``."""
    specialties = rng.sample(list(Specialty), rng.randint(2, 4))
    organisations = [
        Organisation(_id(rng, "O"), "Organisation", rng.choice(list(OrganisationKind)), "PL")
        for _ in range(rng.randint(2, 4))
    ]
    facilities, reports = [], []
    for _ in range(rng.randint(2, 6)):
        kind = rng.choice(list(FacilityKind))
        facility = Facility(
            _id(rng, "F"),
            "Facility",
            kind,
            rng.choice(organisations).id,
            "PL",
            Coordinates(rng.uniform(44, 56), rng.uniform(2, 31)),
            frozenset(rng.sample(specialties, rng.randint(1, len(specialties)))),
            frozenset(rng.sample(list(Capability), rng.randint(0, 3))),
            daily_admission_limit=rng.choice([None, None, 0, 1, 3]),
            daily_outpatient_throughput=rng.randint(0, 50) if kind.is_field_hospital else None,
        )
        facilities.append(facility)
        # mostly the specialties offered; now and then one that is not (left out of the problem)
        for specialty in [
            s for s in specialties if s in facility.specialties or rng.random() < 0.2
        ]:
            for older in range(rng.randint(1, 2)):
                baseline, plus_72h = rng.randint(0, 5), rng.randint(0, 3)
                reports.append(
                    CapacityReport(
                        facility.id,
                        specialty,
                        rng.randint(0, baseline + plus_72h),
                        baseline,
                        0,
                        plus_72h,
                        now - timedelta(hours=rng.choice([1, 5, 30]) + older),
                    )
                )
    agreements = []
    for _ in range(rng.randint(*agreements_between)):
        sender, receiver = rng.sample(organisations, 2)
        start = (now - timedelta(days=rng.randint(-3, 30))).date()
        end = rng.choice([None, start + timedelta(days=rng.randint(0, 40))])
        agreements.append(
            Agreement(
                _id(rng, "AG"),
                sender.id,
                receiver.id,
                frozenset(rng.sample(specialties, rng.randint(1, len(specialties)))),
                rng.choice(list(quotas)),
                CostPolicy.free(),
                start,
                end,
            )
        )
    locations: list[str | None] = [None, *[f.id for f in facilities] * 3]
    patients = [
        Patient(
            _id(rng, "P"),
            rng.choice(organisations).id,
            tuple(rng.sample(specialties, rng.randint(1, 2))),
            rng.choice(list(Precedence)),
            rng.choice(list(Mobility)),
            special_needs=frozenset(rng.sample(list(SpecialNeed), rng.choice([0, 0, 1]))),
            fit_to_transport=rng.random() < 0.9,
            expected_length_of_stay_days=rng.choice([None, 1, 3, 10, 30, 400]),
            location_id=rng.choice(locations),
            status=rng.choice(STATUSES),
        )
        for _ in range(rng.randint(0, 40))
    ]
    with uow_factory() as uow:
        uow.organisations.add_many(organisations)
        uow.facilities.add_many(facilities)
        uow.capacity.add_many(reports)
        for agreement in agreements:
            uow.agreements.add(agreement)
        uow.patients.add_many(patients)
        uow.commit()


def named(line: str, after: str) -> str:
    """The agreement a line of `plan build` or an overrun names first, before ``after`` (ids
    hold spaces here)."""
    return line.split(after, 1)[0]


def not_carried(built: BuiltProblem) -> set[str]:
    """The agreements short of room that `plan build` names but does not carry as quotas
    (those overlapping others between the same organisations whose covering sets cross)."""
    return {named(line, " has room for ") for line in built.quotas_tight if "not carried" in line}


@pytest.mark.parametrize("seed", list(range(1, 9)))
def test_random_registries_go_through_build_solve_approve_and_replan(
    uow_factory: UowFactory, seed: int
) -> None:
    rng = random.Random(seed)
    _store_registry(uow_factory, rng, utc_now())
    placed = 0
    for _ in range(2):
        # agreements already full are kept, so that plans over quota are made and approved
        built = build_problem(
            uow_factory(), now=utc_now(), stale_after=timedelta(hours=24), respect_quotas=False
        )
        problem = parse_problem(built.problem)  # the registry always gives a valid problem
        plan = solve_exact(problem, time_limit=5)
        assert check_plan(problem, plan).feasible
        current = {p["id"]: p["current"] for p in built.problem["patients"] if "current" in p}
        assert len(current) == placed  # every approved place comes back as `current`
        kept = {a.patient: {"facility": a.facility, "day": a.day} for a in plan.assignments}
        assert all(kept.get(patient) == place for patient, place in current.items())
        overruns = quota_overruns(uow_factory(), built.problem, plan, on=utc_now())
        approve = partial(
            approve_plan, problem=built.problem, manifest=built.manifest, plan=plan, actor="t"
        )
        if overruns:  # refused, then approved with a reason
            with pytest.raises(QuotaExceeded):
                approve(uow_factory())
            approve(uow_factory(), over_quota="partner agreed")
        else:
            approve(uow_factory())
        placed = len(plan.assignments)
    assert placed > 0  # the seeds are chosen so that someone is placed: the checks bite
    # built within quotas and solved with the manifest, no plan goes beyond an agreement
    # already full or carried as a quota; the only agreements short of room not carried are
    # those that overlap another between the same organisations
    within = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24))
    within_problem = within.for_engines()
    within_plan = solve_exact(within_problem, time_limit=5)
    assert check_plan(within_problem, within_plan).feasible
    full = {named(line, " allows ") for line in within.quotas_full}
    held = set(within.quotas_held)
    assert held == {q["id"] for q in within.manifest["quotas"]}
    overlapping = not_carried(within)
    overruns = quota_overruns(uow_factory(), within.problem, within_plan, on=utc_now())
    beyond = {named(line, " allows ") for line in overruns}
    assert not beyond & (full | held)
    assert beyond <= overlapping
    # a change after the build refuses the approval of its plan
    with uow_factory() as uow:
        live = [p for p in uow.patients.list() if p.status is PatientStatus.SELECTED]
    if live:
        with uow_factory() as uow:
            patient = uow.patients.get(live[0].id)
            patient.transition_to(PatientStatus.DIED, actor="t", reason="r", at=utc_now())
            uow.patients.update(patient)
            uow.commit()
        with pytest.raises(RegistryChanged, match=f"patient {live[0].id}"):
            approve_plan(
                uow_factory(),
                problem=built.problem,
                manifest=built.manifest,
                plan=plan,
                actor="t",
            )
    # patients of the last plan accepted by their facilities since its reports: the next
    # problem leaves them out and takes their beds off on the days the plan gave them
    last, last_problem = plan, built.problem
    stays = {p["id"]: (p["specialty"], p["length_of_stay_days"]) for p in last_problem["patients"]}
    accepted = _accept_half(uow_factory, rng, [a.patient for a in last.assignments])
    # and patients the plan left selected, sent by treatment requests whose answers name a
    # facility and day: their beds are taken off there too
    admitted = _accepted_by_requests(uow_factory, rng, last_problem, last)
    after = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24))
    assert not {p["id"] for p in after.problem["patients"]} & (set(accepted) | set(admitted))
    expected = _bed_rows(last_problem)
    held = [(a.patient, a.facility, a.day) for a in last.assignments if a.patient in accepted]
    for patient_id, facility, first in held + [(i, *place) for i, place in admitted.items()]:
        specialty, stay = stays[patient_id]
        row = expected[(facility, specialty)]
        for day in range(first, min(len(row), first + stay)):
            row[day] = max(0, row[day] - 1)
    assert _bed_rows(after.problem) == expected


# of seeds 1-60, some whose registries carry quotas of one agreement and some of agreements
# between the same organisations together (27, 43 and 44), all placing patients
@pytest.mark.parametrize("seed", [1, 3, 6, 18, 27, 36, 43, 44])
def test_random_registries_with_quotas_keep_to_them_from_build_to_approval(
    uow_factory: UowFactory, seed: int
) -> None:
    # more agreements, some between the same organisations, with small quotas: twice, the
    # problem is built with its quotas, solved with the manifest and approved; in between,
    # half of the plan's patients are accepted by their facilities, so that the next build
    # and approval count them as sent under their agreements
    rng = random.Random(seed)
    _store_registry(uow_factory, rng, utc_now(), agreements_between=(2, 5), quotas=(None, 1, 2, 3))
    tight = 0
    for _ in range(2):
        built = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24))
        problem = built.for_engines()
        plan = solve_exact(problem, time_limit=5)
        assert check_plan(problem, plan).feasible  # within every quota the engines were given
        held = set(built.quotas_held)
        assert held == {q["id"] for q in built.manifest["quotas"]}
        tight += len(built.quotas_tight)
        # the approval goes beyond no quota the build carried; only beyond an agreement that
        # overlaps another between the same organisations, which the build names and does not
        # carry
        overlapping = not_carried(built)
        overruns = quota_overruns(uow_factory(), built.problem, plan, on=utc_now())
        assert {named(line, " allows ") for line in overruns} <= overlapping
        approve = partial(
            regulating.approve,
            problem=built.problem,
            manifest=built.manifest,
            plan=plan,
            actor="t",
        )
        if overruns:
            with pytest.raises(QuotaExceeded):
                approve(uow_factory())
            approval = approve(uow_factory(), within_quotas=True)
            assert set(approval.left_out.values()) <= overlapping
        else:
            approval = approve(uow_factory())
        assert approval.over_quota == []
        _accept_half(uow_factory, rng, sorted(a.patient for a in approval.solved.assignments))
    assert tight > 0  # the seeds are chosen so that agreements are short of room: checks bite


def _accept_half(uow_factory: UowFactory, rng: random.Random, patients: list[str]) -> list[str]:
    """Half of ``patients``, drawn at random, accepted by their facilities; their ids."""
    accepted = sorted(rng.sample(patients, len(patients) // 2))
    for patient_id in accepted:
        move_patient(
            uow_factory(),
            patient_id,
            PatientStatus.ACCEPTED,
            actor="t",
            role=ActorRole.RECEIVING_FACILITY,
        )
    return accepted


def _accepted_by_requests(
    uow_factory: UowFactory, rng: random.Random, problem: dict[str, Any], plan: Plan
) -> dict[str, tuple[str, int]]:
    """Send up to three of the problem's patients the plan left unplaced by requests to the
    operator of a facility of the problem that offers their specialty, each accepted for that
    facility on a random day; their (facility, day)."""
    placed = {a.patient for a in plan.assignments}
    today = utc_now().date()
    sent: dict[str, tuple[str, int]] = {}
    with uow_factory() as uow:
        facilities = {f.id: f for f in uow.facilities.list()}
        patients = uow.patients.get_many([p["id"] for p in problem["patients"]])
    offering = [f for f in problem["facilities"] if f["id"] in facilities]
    for entry in problem["patients"]:
        patient = patients[entry["id"]]
        if entry["id"] in placed or patient.status is not PatientStatus.SELECTED or len(sent) == 3:
            continue
        choices = [
            facilities[f["id"]]
            for f in offering
            if entry["specialty"] in f["beds"]
            and facilities[f["id"]].operator_id != patient.organisation_id
        ]
        if not choices:
            continue
        facility, day = rng.choice(choices), rng.randrange(problem["horizon_days"])
        admission = (facility.id, today + timedelta(days=day))
        accepted_request(
            uow_factory,
            patient.organisation_id,
            facility.operator_id,
            [patient.id],
            {patient.id: admission},
        )
        sent[patient.id] = (facility.id, day)
    return sent


def _bed_rows(problem: dict[str, Any]) -> dict[tuple[str, str], list[int]]:
    """Free beds per (facility, specialty), a list of days (as `plan build` writes them)."""
    return {
        (f["id"], specialty): list(beds)
        for f in problem["facilities"]
        for specialty, beds in f["beds"].items()
    }
