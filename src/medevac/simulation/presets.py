"""Ready-made scenarios: WHO EMT types 1 mobile, 1 fixed, 2, 3 and the two demo field hospitals.

Where each number comes from is documented in docs/simulation.md. In short: the daily outpatient
volumes (type 1 mobile 50, type 1 fixed 100, type 2 100) and the inpatient beds (type 2 20,
type 3 40) are the minimum capacities of the WHO EMT classification ("Blue Book"), and the type 1
horizon is its 14-day minimum deployment. The number of operating tables, theatre hours, the
type 3 arrival rate and horizon, the case mix, service times, lengths of stay, station counts and
wait limits are planning assumptions, to be replaced by a team's own figures. The theatre time
the assumptions give is above the WHO minimum of 7 major or 15 minor operations a day (type 2)
and 15 major or 30 minor (type 3); tests/unit/simulation/test_presets.py checks all of this.
"""

from __future__ import annotations

from collections.abc import Callable

from medevac.simulation.params import (
    Arrivals,
    CaseClass,
    Duration,
    Policies,
    Resources,
    Scenario,
    TheatreHours,
)

# Assumption: arrivals follow daylight, few patients at night (relative weights per hour 0-23).
DAYTIME_PROFILE: tuple[float, ...] = (
    (0.3,) * 6 + (0.6, 1.0) + (1.8,) * 4 + (1.6,) * 5 + (1.1,) * 3 + (0.6, 0.6, 0.4, 0.4)
)

# Assumption: a surge that doubles arrivals on days 3-4 (counted from 0) and then fades out.
DEMO_SURGE: tuple[float, ...] = (1.0, 1.0, 1.6, 2.0, 2.0, 1.6, 1.3, 1.1, 1.0)


def _outpatient_mix(refer_serious: bool) -> tuple[CaseClass, ...]:
    """Case mix of an outpatient-only team: serious cases are stabilised and referred on."""
    return (
        CaseClass("minor", 0.70, Duration.lognormal(0.25, 0.15)),
        CaseClass(
            "moderate",
            0.20,
            Duration.lognormal(0.5, 0.25),
            referral_probability=0.3 if refer_serious else 0.15,
        ),
        CaseClass(
            "major trauma",
            0.05,
            Duration.lognormal(0.75, 0.4),
            referral_probability=1.0,
            may_leave_unseen=False,
        ),
        CaseClass("paediatric", 0.05, Duration.lognormal(0.4, 0.2), referral_probability=0.1),
    )


def _inpatient_mix(major_share: float, major_los_hours: float) -> tuple[CaseClass, ...]:
    """Case mix of a surgical team with beds; mostly outpatients, as Little's law demands."""
    paediatric_share = 0.15
    moderate_share = 0.25
    minor_share = 1.0 - major_share - paediatric_share - moderate_share
    return (
        CaseClass("minor", minor_share, Duration.lognormal(0.25, 0.15)),
        CaseClass(
            "moderate",
            moderate_share,
            Duration.lognormal(0.5, 0.25),
            surgery_probability=0.1,
            surgery=Duration.lognormal(0.75, 0.4),
            admission_probability=0.1,
            length_of_stay=Duration.lognormal(36.0, 24.0),
        ),
        CaseClass(
            "major trauma",
            major_share,
            Duration.lognormal(0.75, 0.4),
            surgery_probability=0.6,
            surgery=Duration.lognormal(1.5, 0.7),
            admission_probability=0.9,
            length_of_stay=Duration.lognormal(major_los_hours, major_los_hours * 0.6),
            referral_probability=0.1,
            may_leave_unseen=False,
        ),
        CaseClass(
            "paediatric",
            paediatric_share,
            Duration.lognormal(0.4, 0.2),
            admission_probability=0.1,
            length_of_stay=Duration.lognormal(36.0, 24.0),
        ),
    )


def who_emt_type_1_mobile() -> Scenario:
    """Mobile outpatient team: at least 50 outpatients a day (WHO), no beds, refers serious ones."""
    return Scenario(
        name="who-emt-type-1-mobile",
        description="WHO EMT type 1 mobile: outpatient emergency care, >= 50 patients a day.",
        days=14,
        arrivals=Arrivals(50.0, hourly_profile=DAYTIME_PROFILE),
        case_mix=_outpatient_mix(refer_serious=True),
        resources=Resources(consultation_stations=3, beds=0),
        policies=Policies(holding_wait_limit_hours=0.0, unseen_wait_limit_hours=6.0),
    )


def who_emt_type_1_fixed() -> Scenario:
    """Fixed outpatient facility: at least 100 outpatients a day (WHO), no beds."""
    return Scenario(
        name="who-emt-type-1-fixed",
        description="WHO EMT type 1 fixed: outpatient emergency care, >= 100 patients a day.",
        days=14,
        arrivals=Arrivals(100.0, hourly_profile=DAYTIME_PROFILE),
        case_mix=_outpatient_mix(refer_serious=False),
        resources=Resources(consultation_stations=5, beds=0),
        policies=Policies(holding_wait_limit_hours=0.0, unseen_wait_limit_hours=6.0),
    )


def who_emt_type_2() -> Scenario:
    """Inpatient surgical team: at least 20 inpatient beds and 100 outpatients a day (WHO).

    WHO also asks for at least 7 major or 15 minor operations a day and care, surgery included,
    24 hours a day; one operating table is an assumption (no table count was confirmed).
    """
    return Scenario(
        name="who-emt-type-2",
        description=(
            "WHO EMT type 2: inpatient surgical emergency care; >= 20 beds, >= 100 outpatients "
            "and >= 7 major or 15 minor operations a day; 1 operating table (assumed)."
        ),
        days=30,
        arrivals=Arrivals(100.0, hourly_profile=DAYTIME_PROFILE),
        case_mix=_inpatient_mix(major_share=0.06, major_los_hours=48.0),
        resources=Resources(
            consultation_stations=5, beds=20, operating_tables=1, theatre_hours=TheatreHours(0, 24)
        ),
        policies=Policies(holding_wait_limit_hours=4.0, unseen_wait_limit_hours=6.0),
    )


def who_emt_type_3() -> Scenario:
    """Referral-level team: at least 40 inpatient beds, 4-6 of them intensive care (WHO).

    Intensive care beds are not modelled separately. Two operating tables, 120 arrivals a day
    (WHO minimum: 100 outpatients) and the 30-day horizon are assumptions; WHO asks for at
    least 15 major or 30 minor operations a day.
    """
    return Scenario(
        name="who-emt-type-3",
        description=(
            "WHO EMT type 3: inpatient referral care; >= 40 beds (4-6 intensive care, not "
            "modelled apart), >= 15 major or 30 minor operations a day; 2 operating tables "
            "(assumed)."
        ),
        days=30,
        arrivals=Arrivals(120.0, hourly_profile=DAYTIME_PROFILE),
        case_mix=_inpatient_mix(major_share=0.08, major_los_hours=72.0),
        resources=Resources(
            consultation_stations=7, beds=40, operating_tables=2, theatre_hours=TheatreHours(0, 24)
        ),
        policies=Policies(holding_wait_limit_hours=6.0, unseen_wait_limit_hours=6.0),
    )


def field_hospital_100_beds() -> Scenario:
    """The demo's larger field hospital: 100 beds, paediatric equipment, ~420 patients a day."""
    return Scenario(
        name="field-hospital-100-beds",
        description="Mobile field hospital, up to 100 beds with paediatric equipment, ~420/day.",
        days=30,
        arrivals=Arrivals(420.0, hourly_profile=DAYTIME_PROFILE),
        case_mix=_inpatient_mix(major_share=0.05, major_los_hours=72.0),
        resources=Resources(
            consultation_stations=16,
            beds=100,
            operating_tables=3,
            theatre_hours=TheatreHours(7, 22),
        ),
        policies=Policies(holding_wait_limit_hours=4.0, unseen_wait_limit_hours=6.0),
    )


def field_hospital_50_beds() -> Scenario:
    """The demo's smaller field hospital: 50 beds, ~200 patients a day."""
    return Scenario(
        name="field-hospital-50-beds",
        description="Mobile field hospital, 50 beds, ~200 patients a day.",
        days=30,
        arrivals=Arrivals(200.0, hourly_profile=DAYTIME_PROFILE),
        case_mix=_inpatient_mix(major_share=0.05, major_los_hours=72.0),
        resources=Resources(
            consultation_stations=8, beds=50, operating_tables=2, theatre_hours=TheatreHours(7, 22)
        ),
        policies=Policies(holding_wait_limit_hours=4.0, unseen_wait_limit_hours=6.0),
    )


def field_hospital_100_beds_surge() -> Scenario:
    """The 100-bed hospital facing a surge that doubles arrivals for two days."""
    base = field_hospital_100_beds()
    return Scenario(
        name="field-hospital-100-beds-surge",
        description="The 100-bed field hospital in a surge: arrivals double on days 3-4 (from 0).",
        days=base.days,
        arrivals=Arrivals(420.0, surge=DEMO_SURGE, hourly_profile=DAYTIME_PROFILE),
        case_mix=base.case_mix,
        resources=base.resources,
        policies=base.policies,
    )


PRESETS: dict[str, Callable[[], Scenario]] = {
    "who-emt-type-1-mobile": who_emt_type_1_mobile,
    "who-emt-type-1-fixed": who_emt_type_1_fixed,
    "who-emt-type-2": who_emt_type_2,
    "who-emt-type-3": who_emt_type_3,
    "field-hospital-100-beds": field_hospital_100_beds,
    "field-hospital-50-beds": field_hospital_50_beds,
    "field-hospital-100-beds-surge": field_hospital_100_beds_surge,
}


def preset(name: str) -> Scenario:
    """The ready-made scenario called ``name`` (see ``PRESETS``)."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise KeyError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})") from None
