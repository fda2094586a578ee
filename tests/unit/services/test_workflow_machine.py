"""Random workflows on the demo registry (hypothesis state machine, in-memory store).

Steps: patients moved along their lifecycle, treatment requests drafted, submitted, answered
(with and without named admissions, some at facilities the registry must refuse), admissions
named later, requests closed, capacity reported, plans built, solved and approved (over quota
or not). After every step the registry must still give a valid problem whose beds are never
above what the facilities reported, with at most one live plan, only selected and referred
patients planned, no patient open on two live requests, and every patient accepted and on
its way either bound for a facility or listed as having none. Rules only catch the refusals
the registry is meant to make (`DomainError`); anything else fails the test.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cache

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from medevac.domain.errors import DomainError, InvalidValue
from medevac.domain.facilities import CapacityReport
from medevac.domain.lifecycle import ALLOWED_TRANSITIONS, PatientStatus
from medevac.domain.repositories import UnitOfWork
from medevac.domain.requests import PatientDecision, RequestStatus
from medevac.planning import check_plan, parse_problem, solve
from medevac.planning.engines import Engine
from medevac.services import holds, manifests, quota_count, regulating
from medevac.services.auditing import utc_now
from medevac.services.demo import build_demo
from medevac.services.patients import move_patient
from medevac.services.registry import report_capacity
from medevac.services.requests import (
    close_request,
    create_request,
    name_admission,
    respond_to_request,
    submit_request,
)
from tests.fakes import FakeDatabase, FakeState

ON_THEIR_WAY = (PatientStatus.ACCEPTED, PatientStatus.SCHEDULED, PatientStatus.IN_TRANSIT)
#: the next step of a referred patient on its way to treatment
FORWARD = {
    PatientStatus.REFERRED: PatientStatus.ACCEPTED,
    PatientStatus.ACCEPTED: PatientStatus.SCHEDULED,
    PatientStatus.SCHEDULED: PatientStatus.IN_TRANSIT,
    PatientStatus.IN_TRANSIT: PatientStatus.ADMITTED,
    PatientStatus.ADMITTED: PatientStatus.IN_TREATMENT,
}


@cache
def _demo_state() -> FakeState:
    """The demo, unregulated, built once; each run starts from a copy."""
    database = FakeDatabase()
    build_demo(database.unit_of_work(), actor="demo", regulate=False)
    return database.state


def _pick(data: st.DataObject, items: list, label: str):  # type: ignore[no-untyped-def]
    return items[data.draw(st.integers(0, len(items) - 1), label=label)]


@contextmanager
def _two_referrals_refused(uow: Callable[[], UnitOfWork], patient_id: str) -> Iterator[None]:
    """Let a move out of referred be refused where both a request awaiting its answer and
    the live plan, at another organisation's facility, refer the patient (the move cannot
    say whose answer it is: `_check_one_receiver`), the patient left as it was; any other
    error stands. A re-plan that kept such a patient placed reached it."""
    with uow() as before:
        status = before.patients.get(patient_id).status
    try:
        yield
    except InvalidValue as refusal:
        if "cannot say which of them answers" not in refusal.reason:
            raise
        event("move refused: referred by a request and by a plan")
        with uow() as after:
            assert after.patients.get(patient_id).status is status


class RegistryWorkflow(RuleBasedStateMachine):
    @initialize()
    def demo(self) -> None:
        self.database = FakeDatabase()
        self.database.state = copy.deepcopy(_demo_state())
        self.uow = self.database.unit_of_work
        self.approved = 0

    def _read(self):  # type: ignore[no-untyped-def]
        with self.uow() as uow:
            return uow.patients.list(), uow.requests.list(), uow.facilities.list()

    @rule(data=st.data())
    def move_a_patient(self, data: st.DataObject) -> None:
        patients, _, _ = self._read()
        movable = [p for p in patients if ALLOWED_TRANSITIONS[p.status]]
        patient = _pick(data, movable, "patient")
        target = _pick(data, sorted(ALLOWED_TRANSITIONS[patient.status]), "target")
        with _two_referrals_refused(self.uow, patient.id):
            move_patient(self.uow(), patient.id, target, actor="t", reason="workflow test")

    @rule(data=st.data())
    def advance_a_sent_patient(self, data: st.DataObject) -> None:
        patients, _, _ = self._read()
        sent = [p for p in patients if p.status in FORWARD]
        if sent:
            patient = _pick(data, sent, "patient")
            with _two_referrals_refused(self.uow, patient.id):
                move_patient(self.uow(), patient.id, FORWARD[patient.status], actor="t")

    @rule(data=st.data(), count=st.integers(1, 4))
    def request_selected_patients(self, data: st.DataObject, count: int) -> None:
        patients, _, facilities = self._read()
        selected = [p for p in patients if p.status is PatientStatus.SELECTED]
        if not selected:
            return
        sender = _pick(data, sorted({p.organisation_id for p in selected}), "sender")
        chosen = [p for p in selected if p.organisation_id == sender][:count]
        needed = {p.required_specialties[0] for p in chosen}
        receivers = sorted({f.operator_id for f in facilities} - {sender})
        treating = sorted({f.operator_id for f in facilities if f.specialties & needed} - {sender})
        receivers = treating if treating and data.draw(st.integers(0, 3)) else receivers
        request = create_request(
            self.uow(),
            from_organisation_id=sender,
            to_organisation_id=_pick(data, receivers, "receiver"),
            patient_ids=[p.id for p in chosen],
            actor="t",
        )
        submit_request(self.uow(), request.id, actor="t")

    @rule(data=st.data())
    def answer_a_request(self, data: st.DataObject) -> None:
        patients, requests, facilities = self._read()
        submitted = [r for r in requests if r.status is RequestStatus.SUBMITTED]
        if not submitted:
            return
        request = _pick(data, submitted, "request")
        by_id = {p.id: p for p in patients}
        answers: dict[str, tuple[bool, str]] = {}
        admissions: dict[str, tuple[str, object]] = {}
        for line in request.patients:
            if line.decision is not PatientDecision.PENDING:
                continue
            accepted = data.draw(st.booleans(), label=f"accept {line.patient_id}")
            answers[line.patient_id] = (accepted, "" if accepted else "no bed")
            if data.draw(st.booleans(), label="admission"):
                specialty = by_id[line.patient_id].required_specialties[0]
                fitting = [
                    f
                    for f in facilities
                    if f.operator_id == request.to_organisation_id and f.offers(specialty)
                ]
                # mostly a facility that fits, sometimes any (which may be refused)
                choices = fitting if fitting and data.draw(st.integers(0, 3)) else facilities
                facility = _pick(data, choices, "facility")
                day = utc_now().date() + timedelta(days=data.draw(st.integers(-1, 20)))
                admissions[line.patient_id] = (facility.id, day)
        try:
            respond_to_request(
                self.uow(),
                request.id,
                patient_answers=answers,
                admissions=admissions,  # type: ignore[arg-type]
                actor="t",
            )
            event("answer recorded" + (" with admissions" if admissions else ""))
        except DomainError:
            event("answer refused")
            with self.uow() as uow:  # refused whole
                assert uow.requests.get(request.id).status is RequestStatus.SUBMITTED

    @rule(data=st.data())
    def name_an_admission_later(self, data: st.DataObject) -> None:
        _, requests, facilities = self._read()
        lines = [
            (r.id, line.patient_id)
            for r in requests
            for line in r.patients
            if line.decision is PatientDecision.ACCEPTED
        ]
        if not lines:
            return
        request_id, patient_id = _pick(data, lines, "line")
        facility = _pick(data, facilities, "facility")
        day = utc_now().date() + timedelta(days=data.draw(st.integers(0, 20)))
        try:
            name_admission(
                self.uow(), request_id, patient_id, facility_id=facility.id, day=day, actor="t"
            )
            event("admission named later")
        except DomainError:
            event("admission refused")  # closed, left, or a facility the registry refuses

    @rule(data=st.data())
    def close_a_request(self, data: st.DataObject) -> None:
        _, requests, _ = self._read()
        live = [r for r in requests if r.is_live and r.status is not RequestStatus.DRAFT]
        if live:
            close_request(self.uow(), _pick(data, live, "request").id, reason="t", actor="t")

    @rule(data=st.data(), free=st.integers(0, 10), extra=st.integers(0, 5))
    def report_capacity(self, data: st.DataObject, free: int, extra: int) -> None:
        _, _, facilities = self._read()
        facility = _pick(data, [f for f in facilities if f.specialties], "facility")
        specialty = _pick(data, sorted(facility.specialties), "specialty")
        report = CapacityReport(facility.id, specialty, free, free + extra, 1, 1, utc_now())
        report_capacity(self.uow(), report, actor="t")

    @rule(data=st.data(), quota=st.integers(0, 12))
    def change_a_quota(self, data: st.DataObject, quota: int) -> None:
        with self.uow() as uow:
            agreement = _pick(data, uow.agreements.list(), "agreement")
            agreement.quota = quota
            uow.agreements.update(agreement)
            uow.commit()

    @rule(greedy=st.booleans(), quotas=st.sampled_from(["kept", "over", "within"]))
    def build_solve_and_approve(self, greedy: bool, quotas: str) -> None:
        now = utc_now()
        built = regulating.build_problem(self.uow(), now=now, stale_after=timedelta(days=1))
        problem = built.for_engines()  # as `plan solve` reads the files
        plan = solve(problem, Engine.GREEDY if greedy else Engine.EXACT, time_limit=5)
        assert check_plan(problem, plan).feasible
        # the patients sent earlier who arrive on the problem's days keep their admissions
        assert manifests.admission_limit_overruns(built.problem, built.manifest, plan) == []
        if manifests.arrivals(built.manifest):
            event("admissions due counted")
        # never beyond an agreement whose quota the build carried to the engines, counted as
        # the approval counts; the demo's two agreements bind different receivers, so every
        # agreement short of room is carried, and no plan goes beyond any
        held = set(built.quotas_held)
        overruns = quota_count.quota_overruns(self.uow(), built.problem, plan, on=utc_now())
        assert not {line.split()[0] for line in overruns} & held
        assert overruns == []
        for quota in problem.quotas:
            under = sum(
                1
                for a in plan.assignments
                if quota.counts(
                    problem.patients[problem.patient_index[a.patient]], a.facility, a.day
                )
            )
            if under == quota.room:
                event("a carried quota's room all used")
        try:
            approval = regulating.approve(
                self.uow(),
                problem=built.problem,
                manifest=built.manifest,
                plan=plan,
                actor="t",
                over_quota="test" if quotas == "over" else None,
                within_quotas=quotas == "within",
            )
        except regulating.QuotaExceeded as refusal:
            raise AssertionError(f"refused for quotas the plan keeps to: {refusal}") from refusal
        event("plan approved")
        if built.quotas_held:
            event("a quota carried by the build")
        if approval.left_out:
            event("patients left out within quotas")
            assert quotas == "within"
        self.approved += 1
        with self.uow() as uow:
            assert [p.id for p in uow.plans.live()] == [approval.plan.id]
            stored = uow.patients.get_many([a.patient for a in approval.solved.assignments])
            left = uow.patients.get_many(list(approval.left_out))
        assert all(p.status is PatientStatus.REFERRED for p in stored.values())
        assert all(p.status in regulating.PLANNED_STATUSES for p in left.values())
        if quotas == "within":
            assert approval.over_quota == []
            overruns = quota_count.quota_overruns(
                self.uow(), built.problem, approval.solved, on=utc_now()
            )
            assert overruns == []

    @invariant()
    def the_registry_still_gives_a_sound_problem(self) -> None:
        if not hasattr(self, "database"):
            return
        now = utc_now()
        built = regulating.build_problem(self.uow(), now=now, stale_after=timedelta(days=1))
        parse_problem(built.problem)
        with self.uow() as uow:
            reported = {
                (r.facility_id, r.specialty.value): regulating.beds_by_day(r, 14, now)
                for r in uow.capacity.latest()
            }
            patients = {p.id: p for p in uow.patients.list()}
            live_plans = uow.plans.live()
            requests = uow.requests.list()
            destinations = holds.sent_destinations(uow, list(patients))
        for facility in built.problem["facilities"]:
            for specialty, beds in facility["beds"].items():
                ceiling = reported[(facility["id"], specialty)]
                assert all(0 <= b <= c for b, c in zip(beds, ceiling, strict=True))
        assert len(live_plans) <= 1
        for entry in built.problem["patients"]:
            assert patients[entry["id"]].status in regulating.PLANNED_STATUSES
        for patient_id in patients:
            assert sum(patient_id in r.open_patient_ids() for r in requests) <= 1
        if built.held:
            event("beds held")
        for patient_id, patient in patients.items():
            listed = patient_id in built.without_destination
            if patient.status in ON_THEIR_WAY:
                assert listed != (patient_id in destinations)
            else:
                assert not listed


RegistryWorkflow.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_random_workflows_keep_the_registry_sound = RegistryWorkflow.TestCase
