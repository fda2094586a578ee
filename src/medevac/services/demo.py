"""The demo scenario: fictional organisations in real cities, built through the ordinary use cases.

An origin ministry whose military hospitals hold 110 wounded; a screening mission of the partner's
defence medical service that examines all 110 and selects 24 difficult cases; a treatment request
to that service, whose military medical academy treats them, for those 24; the partner ministry's
two sanatoriums for rehabilitation; an agreement with each partner, free of charge; two field
hospitals near a besieged city; and a regulating plan, approved, that gives each of the 24 a
facility and an admission day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from medevac.domain.agreements import Agreement
from medevac.domain.facilities import CapacityReport, CostPolicy, Facility
from medevac.domain.geography import Coordinates
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.organisations import Organisation
from medevac.domain.patients import Condition, Identity, Patient
from medevac.domain.plans import ApprovedPlan
from medevac.domain.repositories import UnitOfWork
from medevac.domain.requests import TreatmentRequest
from medevac.domain.screening import ScreeningOutcome, ScreeningReport
from medevac.domain.vocabulary import (
    BodyRegion,
    Capability,
    FacilityKind,
    InjuryMechanism,
    Mobility,
    OrganisationKind,
    Precedence,
    ServiceStatus,
    Sex,
    SpecialNeed,
    Specialty,
    TriageCategory,
)
from medevac.planning import Engine, solve
from medevac.services.auditing import utc_now
from medevac.services.clock import day_of, last_moment
from medevac.services.patients import register_patient
from medevac.services.registry import (
    register_agreement,
    register_facility,
    register_organisation,
    report_capacity,
)
from medevac.services.regulating import approve_plan, build_problem
from medevac.services.requests import create_request, submit_request
from medevac.services.screening import add_candidates, create_mission, record_decision

ORIGIN_MINISTRY = "ORG-ORIGIN-MOH"
ORIGIN_DEFENCE = "ORG-ORIGIN-DMS"
PARTNER_MINISTRY = "ORG-PARTNER-MOH"
PARTNER_DEFENCE = "ORG-PARTNER-DMS"
PARTNER_EMT = "ORG-PARTNER-EMT"
COORDINATION_CELL = "ORG-JOINT-CELL"
REQUEST_ID = "REQ-DEMO-001"
MISSION_ID = "SCR-DEMO-001"
AGREEMENT_ID = "AGR-DEMO-001"
ACADEMY_AGREEMENT_ID = "AGR-DEMO-002"
PLAN_ID = "PLAN-DEMO-001"
#: The demo's plan is proved optimal in well under a second; the limit only guards a slow machine.
PLAN_TIME_LIMIT = 30.0
SEED = 20261122

ORGANISATIONS = [
    Organisation(
        ORIGIN_MINISTRY, "Origin Ministry of Health", OrganisationKind.MINISTRY_OF_HEALTH, "UA"
    ),
    Organisation(
        ORIGIN_DEFENCE,
        "Origin Defence Medical Service",
        OrganisationKind.DEFENCE_MEDICAL_SERVICE,
        "UA",
    ),
    Organisation(
        PARTNER_MINISTRY, "Partner Ministry of Health", OrganisationKind.MINISTRY_OF_HEALTH, "PL"
    ),
    Organisation(
        PARTNER_DEFENCE,
        "Partner Defence Medical Service",
        OrganisationKind.DEFENCE_MEDICAL_SERVICE,
        "PL",
    ),
    Organisation(
        PARTNER_EMT,
        "Partner Emergency Medical Teams",
        OrganisationKind.HUMANITARIAN_OPERATION,
        "PL",
    ),
    Organisation(
        COORDINATION_CELL,
        "Joint Evacuation Coordination Cell",
        OrganisationKind.COORDINATION_CELL,
        "PL",
    ),
]

SELECTED_MIX = {
    Specialty.ORTHOPAEDICS: 8,
    Specialty.NEUROLOGY: 5,
    Specialty.OPHTHALMOLOGY: 4,
    Specialty.MAXILLOFACIAL_SURGERY: 4,
    Specialty.GENERAL_SURGERY: 3,
}
ORIGIN_HOSPITALS = {"FAC-KYIV-MH": 45, "FAC-DNIPRO-MH": 40, "FAC-LVIV-MH": 25}

_WOUNDS: dict[Specialty, list[tuple[BodyRegion, InjuryMechanism, str]]] = {
    Specialty.ORTHOPAEDICS: [
        (BodyRegion.LOWER_LIMB, InjuryMechanism.BLAST, "open tibial fracture with bone loss"),
        (BodyRegion.UPPER_LIMB, InjuryMechanism.SHRAPNEL, "non-union of humerus after fixation"),
        (BodyRegion.PELVIS, InjuryMechanism.BLAST, "unstable pelvic ring fracture"),
    ],
    Specialty.NEUROLOGY: [
        (BodyRegion.HEAD, InjuryMechanism.BLAST, "traumatic brain injury with hemiparesis"),
        (BodyRegion.SPINE, InjuryMechanism.GUNSHOT, "incomplete spinal cord injury"),
    ],
    Specialty.OPHTHALMOLOGY: [
        (BodyRegion.EYE, InjuryMechanism.SHRAPNEL, "penetrating eye injury, retained fragment"),
        (BodyRegion.EYE, InjuryMechanism.BLAST, "traumatic cataract and retinal detachment"),
    ],
    Specialty.MAXILLOFACIAL_SURGERY: [
        (BodyRegion.FACE, InjuryMechanism.SHRAPNEL, "comminuted mandible fracture"),
        (BodyRegion.FACE, InjuryMechanism.GUNSHOT, "midface defect needing reconstruction"),
    ],
    Specialty.GENERAL_SURGERY: [
        (BodyRegion.ABDOMEN, InjuryMechanism.SHRAPNEL, "enterocutaneous fistula after laparotomy"),
        (BodyRegion.CHEST, InjuryMechanism.GUNSHOT, "chest wall defect with infection"),
    ],
}


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What the demo built (or found already built)."""

    already_present: bool
    organisations: int
    facilities_by_kind: dict[str, int]
    patients_by_status: dict[str, int]
    screening: ScreeningReport
    request: TreatmentRequest
    agreements: list[Agreement]
    #: the live plan: the demo's own (PLAN_ID) until a later approval supersedes it, then that
    #: approval's; None when no plan is live (the demo built without one, say)
    plan: ApprovedPlan | None


def _facilities() -> list[Facility]:
    free = CostPolicy.free()
    surgical = frozenset(
        {Specialty.GENERAL_SURGERY, Specialty.ORTHOPAEDICS, Specialty.INTENSIVE_CARE}
    )
    return [
        Facility(
            "FAC-KYIV-MH",
            "Capital Military Hospital",
            FacilityKind.HOSPITAL,
            ORIGIN_DEFENCE,
            "UA",
            Coordinates(50.4501, 30.5234),
            surgical,
            frozenset({Capability.INTENSIVE_CARE}),
            400,
            city="Kyiv",
        ),
        Facility(
            "FAC-DNIPRO-MH",
            "Eastern Military Hospital",
            FacilityKind.HOSPITAL,
            ORIGIN_DEFENCE,
            "UA",
            Coordinates(48.4647, 35.0462),
            surgical,
            frozenset({Capability.INTENSIVE_CARE}),
            350,
            city="Dnipro",
        ),
        Facility(
            "FAC-LVIV-MH",
            "Western Military Hospital",
            FacilityKind.HOSPITAL,
            ORIGIN_DEFENCE,
            "UA",
            Coordinates(49.8397, 24.0297),
            surgical,
            frozenset(),
            250,
            city="Lviv",
        ),
        Facility(
            "FAC-LODZ-MMA",
            "Partner Military Medical Academy",
            FacilityKind.MILITARY_MEDICAL_ACADEMY,
            PARTNER_DEFENCE,
            "PL",
            Coordinates(51.7592, 19.4560),
            frozenset(SELECTED_MIX) | {Specialty.NEUROSURGERY, Specialty.INTENSIVE_CARE},
            frozenset(
                {
                    Capability.INTENSIVE_CARE,
                    Capability.ISOLATION,
                    Capability.OXYGEN,
                    Capability.VENTILATOR,
                }
            ),
            total_beds=600,
            daily_admission_limit=8,
            cost_policy=free,
            city="Łódź",
        ),
        Facility(
            "FAC-CIECHOCINEK-SAN",
            "Vistula Spa Sanatorium",
            FacilityKind.REHABILITATION_CENTRE,
            PARTNER_MINISTRY,
            "PL",
            Coordinates(52.8786, 18.7953),
            frozenset({Specialty.REHABILITATION}),
            frozenset({Capability.OXYGEN}),
            total_beds=180,
            daily_admission_limit=6,
            cost_policy=free,
            city="Ciechocinek",
        ),
        Facility(
            "FAC-KOLOBRZEG-SAN",
            "Baltic Coast Sanatorium",
            FacilityKind.REHABILITATION_CENTRE,
            PARTNER_MINISTRY,
            "PL",
            Coordinates(54.1757, 15.5832),
            frozenset({Specialty.REHABILITATION}),
            frozenset(),
            total_beds=120,
            daily_admission_limit=4,
            cost_policy=free,
            city="Kołobrzeg",
        ),
        Facility(
            "FAC-FIELD-1",
            "Field Hospital North (EMT type 2)",
            FacilityKind.EMT_TYPE_2,
            PARTNER_EMT,
            "UA",
            Coordinates(50.0860, 36.2650),
            frozenset({Specialty.GENERAL_SURGERY, Specialty.ORTHOPAEDICS, Specialty.PAEDIATRICS}),
            frozenset({Capability.PAEDIATRIC, Capability.OXYGEN}),
            total_beds=100,
            daily_outpatient_throughput=420,
            cost_policy=free,
            city="Kharkiv (north)",
        ),
        Facility(
            "FAC-FIELD-2",
            "Field Hospital South (EMT type 2)",
            FacilityKind.EMT_TYPE_2,
            PARTNER_EMT,
            "UA",
            Coordinates(49.9170, 36.3200),
            frozenset({Specialty.GENERAL_SURGERY, Specialty.ORTHOPAEDICS}),
            frozenset({Capability.OXYGEN}),
            total_beds=50,
            daily_outpatient_throughput=200,
            cost_policy=free,
            city="Kharkiv (south)",
        ),
    ]


#: (facility, specialty, available, baseline, +24 h, +72 h, hours since the report).
_CAPACITY: list[tuple[str, Specialty, int, int, int, int, float]] = [
    ("FAC-LODZ-MMA", Specialty.ORTHOPAEDICS, 10, 14, 2, 4, 3),
    ("FAC-LODZ-MMA", Specialty.NEUROLOGY, 6, 8, 0, 2, 3),
    ("FAC-LODZ-MMA", Specialty.OPHTHALMOLOGY, 4, 6, 1, 1, 3),
    ("FAC-LODZ-MMA", Specialty.MAXILLOFACIAL_SURGERY, 4, 5, 0, 1, 3),
    ("FAC-LODZ-MMA", Specialty.GENERAL_SURGERY, 8, 12, 2, 2, 3),
    ("FAC-LODZ-MMA", Specialty.NEUROSURGERY, 2, 4, 0, 1, 3),
    ("FAC-LODZ-MMA", Specialty.INTENSIVE_CARE, 2, 6, 0, 2, 3),
    ("FAC-CIECHOCINEK-SAN", Specialty.REHABILITATION, 40, 60, 5, 10, 6),
    ("FAC-KOLOBRZEG-SAN", Specialty.REHABILITATION, 25, 40, 0, 5, 30),
    ("FAC-FIELD-1", Specialty.GENERAL_SURGERY, 40, 60, 0, 0, 1),
    ("FAC-FIELD-1", Specialty.ORTHOPAEDICS, 12, 20, 0, 0, 1),
    ("FAC-FIELD-1", Specialty.PAEDIATRICS, 15, 20, 0, 0, 1),
    ("FAC-FIELD-2", Specialty.GENERAL_SURGERY, 20, 35, 0, 0, 2),
    ("FAC-FIELD-2", Specialty.ORTHOPAEDICS, 8, 15, 0, 0, 2),
]


def _wounded(rng: random.Random) -> list[tuple[Patient, Specialty | None]]:
    """110 wounded in the origin's military hospitals; the second item marks the 24 to select."""
    pool: list[Specialty | None] = [s for s, n in SELECTED_MIX.items() for _ in range(n)]
    pool += [None] * (sum(ORIGIN_HOSPITALS.values()) - len(pool))
    rng.shuffle(pool)
    locations = [f for f, n in ORIGIN_HOSPITALS.items() for _ in range(n)]
    patients = []
    for number, (selected_for, location) in enumerate(zip(pool, locations, strict=True), 1):
        specialty = selected_for or rng.choice(list(SELECTED_MIX))
        region, mechanism, text = rng.choice(_WOUNDS[specialty])
        follow_up = (Specialty.REHABILITATION,) if specialty is not Specialty.OPHTHALMOLOGY else ()
        litter = rng.random() < (0.6 if selected_for else 0.3)
        civilian = rng.random() < 0.2
        patients.append(
            (
                Patient(
                    id=f"PT-{number:04d}",
                    organisation_id=ORIGIN_MINISTRY,
                    required_specialties=(specialty, *follow_up),
                    precedence=rng.choices(
                        [Precedence.PRIORITY, Precedence.ROUTINE, Precedence.CONVENIENCE],
                        weights=[2, 5, 3],
                    )[0],
                    mobility=Mobility.LITTER if litter else Mobility.AMBULATORY,
                    triage=TriageCategory.T2 if selected_for else TriageCategory.T3,
                    identity=Identity(
                        birth_date=date(rng.randint(1966, 2004), rng.randint(1, 12), 1),
                        sex=Sex.FEMALE if rng.random() < 0.12 else Sex.MALE,
                        nationality="UA",
                        service_status=ServiceStatus.CIVILIAN
                        if civilian
                        else ServiceStatus.SERVICE_MEMBER,
                        affiliation="" if civilian else "armed forces",
                    ),
                    conditions=(Condition(region, text, mechanism),),
                    companions=1 if rng.random() < 0.25 else 0,
                    special_needs=frozenset({SpecialNeed.OXYGEN})
                    if rng.random() < 0.1
                    else frozenset(),
                    fit_to_transport=selected_for is not None or rng.random() < 0.5,
                    expected_length_of_stay_days=rng.randint(10, 45),
                    location_id=location,
                ),
                selected_for,
            )
        )
    return patients


def build_demo(
    uow: UnitOfWork,
    *,
    actor: str,
    regulate: bool = True,
    stale_after: timedelta = timedelta(hours=24),
) -> DemoSummary:
    """Build the demo scenario in the database behind `uow`; leave an existing one untouched.

    With `regulate` it ends as `medevac plan build / solve / approve` would: the referred
    patients get a facility and an admission day from the exact engine, and the plan is
    approved. Without, no plan is live and regulating is left to the user.
    """
    with uow:
        present = uow.organisations.find(ORIGIN_MINISTRY) is not None
    if present:
        return summarise_demo(uow, already_present=True)

    rng = random.Random(SEED)
    now = utc_now()
    today = day_of(now)
    for organisation in ORGANISATIONS:
        register_organisation(uow, organisation, actor=actor)
    for facility in _facilities():
        register_facility(uow, facility, actor=actor)
    for facility_id, specialty, available, baseline, p24, p72, hours in _CAPACITY:
        report = CapacityReport(
            facility_id, specialty, available, baseline, p24, p72, now - timedelta(hours=hours)
        )
        report_capacity(uow, report, actor=actor)
    # The partner ministry's sanatoriums rehabilitate; its defence medical service's academy treats.
    for agreement_id, receiving, specialties in (
        (AGREEMENT_ID, PARTNER_MINISTRY, frozenset(SELECTED_MIX) | {Specialty.REHABILITATION}),
        (ACADEMY_AGREEMENT_ID, PARTNER_DEFENCE, frozenset(SELECTED_MIX) | {Specialty.NEUROSURGERY}),
    ):
        agreement = Agreement(
            agreement_id,
            ORIGIN_MINISTRY,
            receiving,
            specialties,
            quota=30,
            cost_policy=CostPolicy.free(),
            valid_from=today - timedelta(days=30),
            valid_to=today + timedelta(days=335),
        )
        register_agreement(uow, agreement, actor=actor)

    wounded = _wounded(rng)
    for patient, _ in wounded:
        register_patient(uow, patient, actor=actor)

    create_mission(
        uow,
        mission_id=MISSION_ID,
        team_organisation_id=PARTNER_DEFENCE,
        place="Military hospitals of Kyiv, Dnipro and Lviv",
        starts_on=today - timedelta(days=3),
        ends_on=today,
        team_members=("Col. Dr. A. Nowak (orthopaedics)", "Dr. M. Wiśniewska (neurology)"),
        actor=actor,
    )
    add_candidates(uow, MISSION_ID, [p.id for p, _ in wounded], actor=actor)
    for index, (patient, selected_for) in enumerate(wounded):
        if selected_for is not None:
            outcome = ScreeningOutcome.SELECT
            notes = f"complex {selected_for.label.lower()} case beyond local capacity"
        elif index % 2:
            outcome = ScreeningOutcome.DEFER
            notes = "still unstable; re-examine at the next mission"
        else:
            outcome = ScreeningOutcome.DECLINE
            notes = "can be treated completely at the origin hospital"
        record_decision(
            uow,
            MISSION_ID,
            patient.id,
            outcome,
            clinician="Col. Dr. A. Nowak",
            criteria_notes=notes,
            decided_at=_decided_at(today),
            actor=actor,
        )

    create_request(
        uow,
        request_id=REQUEST_ID,
        from_organisation_id=ORIGIN_MINISTRY,
        to_organisation_id=PARTNER_DEFENCE,
        patient_ids=[p.id for p, s in wounded if s is not None],
        note="Difficult cases selected by the screening mission; treatment at the academy free "
        f"of charge under agreement {ACADEMY_AGREEMENT_ID}",
        actor=actor,
    )
    submit_request(uow, REQUEST_ID, actor=actor)
    if not regulate:
        return summarise_demo(uow, already_present=False)

    built = build_problem(uow, now=utc_now(), stale_after=stale_after)
    plan = solve(built.for_engines(), Engine.EXACT, time_limit=PLAN_TIME_LIMIT)
    approve_plan(
        uow,
        problem=built.problem,
        manifest=built.manifest,
        plan=plan,
        actor=actor,
        plan_id=PLAN_ID,
    )
    return summarise_demo(uow, already_present=False)


def _decided_at(mission_ends_on: date) -> datetime:
    """When the demo's screening team decides on a patient: now, after the moves that made it
    a candidate (the time the demo started came before them, and the audit trail listed the
    decisions before the patients were created), but within the mission's dates when the
    build crosses midnight."""
    now = utc_now()
    if day_of(now) > mission_ends_on:
        return last_moment(mission_ends_on)
    return now


def summarise_demo(uow: UnitOfWork, *, already_present: bool) -> DemoSummary:
    """What the database holds of the demo now, for `medevac demo` to print: on a database
    where it was built before, the registry as changed since. The plan is the live one, not the
    demo's own once a later approval superseded it (which was reported as if it were live)."""
    with uow:
        organisations = len(uow.organisations.list())
        kinds: dict[str, int] = {}
        for facility in uow.facilities.list():
            kinds[facility.kind.value] = kinds.get(facility.kind.value, 0) + 1
        by_status = {
            status.value: count for status, count in uow.patients.count_by_status().items() if count
        }
        mission = uow.screenings.get(MISSION_ID)
        request = uow.requests.get(REQUEST_ID)
        agreements = uow.agreements.list()
        live = uow.plans.live()  # one at most: approving a plan supersedes the others
    order = {s.value: i for i, s in enumerate(PatientStatus)}
    return DemoSummary(
        already_present=already_present,
        organisations=organisations,
        facilities_by_kind=dict(sorted(kinds.items())),
        patients_by_status=dict(sorted(by_status.items(), key=lambda kv: order[kv[0]])),
        screening=mission.report(),
        request=request,
        agreements=agreements,
        plan=live[-1] if live else None,
    )
