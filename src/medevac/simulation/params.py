"""Validated, frozen parameters of a field-hospital scenario.

Every structure checks itself on construction, so an impossible value can never reach the
model. ``scenario_from_dict`` reads plain JSON data, refuses unknown keys and reports the path of
the first bad field (``case_mix[2].length_of_stay.mean_hours: must be > 0``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from medevac.simulation.plain_data import (
    ObjectReader,
    ParameterError,
    is_finite_number,
    read_integer,
    read_number,
    read_numbers,
    read_string,
    shown_number,
)

HOURS_PER_DAY = 24

# Upper limits far above any field hospital, so that a typing error gets a message naming it
# instead of exhausting memory or overflowing (found by mutating the shipped scenarios: days of
# 10**20 had the process killed for memory, an sd of 1e308 hours or an hourly weight of 1e308
# raised OverflowError and "negative dimensions" deep in the simulation).
MAX_DAYS = 3_660  # ten years
MAX_HOURS = 100_000.0  # any duration or waiting limit, about eleven years
MAX_COUNT = 100_000  # stations, tables, beds
MAX_WEIGHT = 1e6  # case-mix shares, hourly weights, surge multipliers (all relative)
MAX_PATIENTS_PER_DAY = 100_000.0
MAX_COEFFICIENT_OF_VARIATION = 100.0  # sd / mean of a lognormal duration
#: arrivals one replication may expect (memory grows with them: about 100 bytes a patient)
MAX_EXPECTED_ARRIVALS = 5_000_000


class DurationKind(StrEnum):
    """Shape of a random duration."""

    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"
    FIXED = "fixed"


@dataclass(frozen=True)
class Duration:
    """A random duration in hours: exponential (mean), lognormal (mean, sd) or fixed (mean)."""

    kind: DurationKind
    mean_hours: float
    sd_hours: float = 0.0

    def __post_init__(self) -> None:
        _require_finite("mean_hours", self.mean_hours)
        _require_finite("sd_hours", self.sd_hours)
        if self.mean_hours < 0:
            raise ParameterError("mean_hours", "must be >= 0")
        _require_at_most("mean_hours", self.mean_hours, MAX_HOURS)
        _require_at_most("sd_hours", self.sd_hours, MAX_HOURS)
        if self.kind is DurationKind.LOGNORMAL:
            if self.mean_hours <= 0:
                raise ParameterError("mean_hours", "must be > 0 for a lognormal duration")
            if self.sd_hours <= 0:
                raise ParameterError("sd_hours", "must be > 0 for a lognormal duration")
            if self.sd_hours > MAX_COEFFICIENT_OF_VARIATION * self.mean_hours:
                raise ParameterError(
                    "sd_hours",
                    f"{self.sd_hours:g} is more than {MAX_COEFFICIENT_OF_VARIATION:g} times "
                    f"mean_hours ({self.mean_hours:g})",
                )
        elif self.sd_hours != 0:
            raise ParameterError(
                "sd_hours", f"only a lognormal duration has sd_hours, not {self.kind}"
            )

    @staticmethod
    def exponential(mean_hours: float) -> Duration:
        return Duration(DurationKind.EXPONENTIAL, mean_hours)

    @staticmethod
    def lognormal(mean_hours: float, sd_hours: float) -> Duration:
        return Duration(DurationKind.LOGNORMAL, mean_hours, sd_hours)

    @staticmethod
    def fixed(hours: float) -> Duration:
        return Duration(DurationKind.FIXED, hours)


@dataclass(frozen=True)
class CaseClass:
    """One class of the case mix and what happens to its patients after consultation.

    After consultation a patient is referred onward with ``referral_probability``; otherwise they
    need surgery with ``surgery_probability`` and a bed with ``admission_probability`` (drawn
    independently; surgery comes first, then the bed).
    """

    name: str
    share: float
    consultation: Duration
    surgery_probability: float = 0.0
    surgery: Duration = field(default_factory=lambda: Duration.fixed(0.0))
    admission_probability: float = 0.0
    length_of_stay: Duration = field(default_factory=lambda: Duration.fixed(0.0))
    referral_probability: float = 0.0
    may_leave_unseen: bool = True

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ParameterError("name", "must not be empty")
        _require_finite("share", self.share)
        if self.share <= 0:
            raise ParameterError("share", "must be > 0")
        _require_at_most("share", self.share, MAX_WEIGHT)
        for name in ("surgery_probability", "admission_probability", "referral_probability"):
            value = getattr(self, name)
            _require_finite(name, value)
            if not 0.0 <= value <= 1.0:
                raise ParameterError(name, f"must be between 0 and 1, got {value}")
        if self.surgery_probability > 0 and self.surgery.mean_hours <= 0:
            raise ParameterError("surgery.mean_hours", "must be > 0 when surgery_probability > 0")
        if self.admission_probability > 0 and self.length_of_stay.mean_hours <= 0:
            # a stay of 0 hours frees the bed at once: admitted patients took no bed at all
            raise ParameterError(
                "length_of_stay.mean_hours", "must be > 0 when admission_probability > 0"
            )


@dataclass(frozen=True)
class TheatreHours:
    """Hours of the day (0-24) in which an operation may start; 0-24 means around the clock."""

    opens: float = 0.0
    closes: float = 24.0

    def __post_init__(self) -> None:
        _require_finite("opens", self.opens)
        _require_finite("closes", self.closes)
        if not 0.0 <= self.opens <= HOURS_PER_DAY:
            raise ParameterError("opens", f"need 0 <= opens < closes <= 24, got {self.opens:g}")
        if not 0.0 <= self.closes <= HOURS_PER_DAY:
            raise ParameterError("closes", f"need 0 <= opens < closes <= 24, got {self.closes:g}")
        if self.opens >= self.closes:
            raise ParameterError(
                "closes",
                f"need 0 <= opens < closes <= 24, got opens {self.opens:g} and closes "
                f"{self.closes:g}",
            )


@dataclass(frozen=True)
class Resources:
    """Consultation stations, operating tables (with their hours) and beds."""

    consultation_stations: int
    beds: int
    operating_tables: int = 0
    theatre_hours: TheatreHours = field(default_factory=TheatreHours)

    def __post_init__(self) -> None:
        _require_count("consultation_stations", self.consultation_stations, minimum=1)
        _require_count("beds", self.beds, minimum=0)
        _require_count("operating_tables", self.operating_tables, minimum=0)
        for name in ("consultation_stations", "beds", "operating_tables"):
            _require_at_most(name, getattr(self, name), MAX_COUNT)


@dataclass(frozen=True)
class Policies:
    """Waiting limits; ``None`` means patients wait as long as it takes.

    ``holding_wait_limit_hours``: a patient who needs a bed waits this long in the holding area
    and is then referred on (0 means referred at once when no bed is free).
    ``unseen_wait_limit_hours``: patients of a class that may leave unseen leave if their
    consultation has not started within this time.
    """

    holding_wait_limit_hours: float | None = 4.0
    unseen_wait_limit_hours: float | None = None

    def __post_init__(self) -> None:
        for name in ("holding_wait_limit_hours", "unseen_wait_limit_hours"):
            value = getattr(self, name)
            if value is not None:
                _require_finite(name, value)
                if value < 0:
                    raise ParameterError(name, "must be >= 0 or null")
                _require_at_most(name, value, MAX_HOURS)


@dataclass(frozen=True)
class Arrivals:
    """Poisson arrivals: a base daily rate, a day-by-day multiplier and an hour-of-day profile.

    ``surge[d]`` multiplies the rate on day ``d`` (the last value holds for later days; empty
    means 1). ``hourly_profile`` has 24 non-negative weights, normalised to mean 1 so the day's
    total stays ``patients_per_day * surge[d]``.
    """

    patients_per_day: float
    surge: tuple[float, ...] = ()
    hourly_profile: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        _require_finite("patients_per_day", self.patients_per_day)
        if self.patients_per_day < 0:
            raise ParameterError("patients_per_day", "must be >= 0")
        _require_at_most("patients_per_day", self.patients_per_day, MAX_PATIENTS_PER_DAY)
        for index, value in enumerate(self.surge):
            _require_finite(f"surge[{index}]", value)
            if value < 0:
                raise ParameterError(f"surge[{index}]", "must be >= 0")
            _require_at_most(f"surge[{index}]", value, MAX_WEIGHT)
        if self.hourly_profile:
            if len(self.hourly_profile) != HOURS_PER_DAY:
                raise ParameterError(
                    "hourly_profile", f"needs 24 values, got {len(self.hourly_profile)}"
                )
            for index, value in enumerate(self.hourly_profile):
                _require_finite(f"hourly_profile[{index}]", value)
                if value < 0:
                    raise ParameterError(f"hourly_profile[{index}]", "must be >= 0")
                _require_at_most(f"hourly_profile[{index}]", value, MAX_WEIGHT)
            if sum(self.hourly_profile) <= 0:
                raise ParameterError("hourly_profile", "needs at least one positive weight")

    def expected_arrivals(self, days: int) -> float:
        """Patients expected over a horizon of ``days`` days."""
        surge = self.surge or (1.0,)
        multipliers = sum(surge[min(day, len(surge) - 1)] for day in range(days))
        return self.patients_per_day * multipliers

    def hourly_rates(self, days: int) -> list[float]:
        """Arrival rate (patients per hour) for each hour of a horizon of ``days`` days."""
        profile = self.hourly_profile or (1.0,) * HOURS_PER_DAY
        # Weights relative to the largest lie in [0, 1] and sum to between 1 and 24, so the
        # scale stays finite however small the weights are (24 / sum(profile) overflowed to inf
        # for weights summing below about 1e-307, and the rates became inf and nan).
        peak = max(profile)
        profile = tuple(weight / peak for weight in profile)
        scale = HOURS_PER_DAY / sum(profile)
        rates: list[float] = []
        for day in range(days):
            multiplier = self.surge[min(day, len(self.surge) - 1)] if self.surge else 1.0
            per_hour = self.patients_per_day * multiplier / HOURS_PER_DAY
            rates.extend(per_hour * weight * scale for weight in profile)
        return rates


@dataclass(frozen=True)
class Scenario:
    """A complete field-hospital scenario: arrivals, case mix, resources, policies, horizon.

    Statistics on patients (counts and waits) cover arrivals after ``warmup_days``; occupancy
    and queue series cover the whole horizon. Patients who arrive within the horizon are followed
    until they leave, even after it ends.
    """

    name: str
    days: int
    arrivals: Arrivals
    case_mix: tuple[CaseClass, ...]
    resources: Resources
    policies: Policies = field(default_factory=Policies)
    warmup_days: int = 0
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ParameterError("name", "must not be empty")
        _require_count("days", self.days, minimum=1)
        _require_at_most("days", self.days, MAX_DAYS)
        _require_count("warmup_days", self.warmup_days, minimum=0)
        if self.warmup_days >= self.days:
            raise ParameterError("warmup_days", "must be smaller than days")
        expected = self.arrivals.expected_arrivals(self.days)
        if expected > MAX_EXPECTED_ARRIVALS:
            raise ParameterError(
                "arrivals.patients_per_day",
                f"{self.days} days at this rate and surge expect {expected:,.0f} arrivals a "
                f"replication; at most {MAX_EXPECTED_ARRIVALS:,} can be simulated (shorten days "
                "or lower the rate)",
            )
        if not self.case_mix:
            raise ParameterError("case_mix", "needs at least one class")
        names = [case.name for case in self.case_mix]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ParameterError(f"case_mix[{index}].name", f"duplicate class {name!r}")
        needs_bed = any(case.admission_probability > 0 for case in self.case_mix)
        if (
            needs_bed
            and self.resources.beds == 0
            and self.policies.holding_wait_limit_hours is None
        ):
            raise ParameterError(
                "policies.holding_wait_limit_hours",
                "a class needs a bed but there are no beds and no holding limit: "
                "patients would wait forever",
            )
        needs_theatre = any(case.surgery_probability > 0 for case in self.case_mix)
        if needs_theatre and self.resources.operating_tables == 0:
            raise ParameterError(
                "resources.operating_tables", "a class needs surgery but there is no table"
            )

    def class_shares(self) -> list[float]:
        """Shares of the case mix normalised to sum to 1."""
        total = sum(case.share for case in self.case_mix)
        return [case.share / total for case in self.case_mix]


# --- reading plain data ---------------------------------------------------------------------


def scenario_from_dict(data: object) -> Scenario:
    """Build a validated ``Scenario`` from JSON data; ``ParameterError`` names the bad path."""
    reader = ObjectReader(data, "")
    obj = reader.object(
        required=("name", "days", "arrivals", "case_mix", "resources"),
        optional=("policies", "warmup_days", "description", "$schema"),
    )
    arrivals_reader = ObjectReader(obj["arrivals"], "arrivals")
    arrivals_obj = arrivals_reader.object(
        required=("patients_per_day",), optional=("surge", "hourly_profile")
    )
    arrivals = arrivals_reader.build(
        Arrivals,
        patients_per_day=read_number(arrivals_obj["patients_per_day"], "arrivals.patients_per_day"),
        surge=tuple(read_numbers(arrivals_obj.get("surge", []), "arrivals.surge")),
        hourly_profile=tuple(
            read_numbers(arrivals_obj.get("hourly_profile", []), "arrivals.hourly_profile")
        ),
    )
    case_data = obj["case_mix"]
    if not isinstance(case_data, list):
        raise ParameterError("case_mix", "must be a list")
    cases = tuple(_case_from_dict(item, f"case_mix[{i}]") for i, item in enumerate(case_data))
    resources = _resources_from_dict(obj["resources"], "resources")
    policies = _policies_from_dict(obj.get("policies", {}), "policies")
    return reader.build(
        Scenario,
        name=read_string(obj["name"], "name"),
        days=read_integer(obj["days"], "days"),
        arrivals=arrivals,
        case_mix=cases,
        resources=resources,
        policies=policies,
        warmup_days=read_integer(obj.get("warmup_days", 0), "warmup_days"),
        description=read_string(obj.get("description", ""), "description"),
    )


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """Plain JSON data that ``scenario_from_dict`` reads back to an equal scenario."""
    return {
        "name": scenario.name,
        "description": scenario.description,
        "days": scenario.days,
        "warmup_days": scenario.warmup_days,
        "arrivals": {
            "patients_per_day": scenario.arrivals.patients_per_day,
            "surge": list(scenario.arrivals.surge),
            "hourly_profile": list(scenario.arrivals.hourly_profile),
        },
        "case_mix": [
            {
                "name": case.name,
                "share": case.share,
                "consultation": _duration_to_dict(case.consultation),
                "surgery_probability": case.surgery_probability,
                "surgery": _duration_to_dict(case.surgery),
                "admission_probability": case.admission_probability,
                "length_of_stay": _duration_to_dict(case.length_of_stay),
                "referral_probability": case.referral_probability,
                "may_leave_unseen": case.may_leave_unseen,
            }
            for case in scenario.case_mix
        ],
        "resources": {
            "consultation_stations": scenario.resources.consultation_stations,
            "beds": scenario.resources.beds,
            "operating_tables": scenario.resources.operating_tables,
            "theatre_hours": {
                "opens": scenario.resources.theatre_hours.opens,
                "closes": scenario.resources.theatre_hours.closes,
            },
        },
        "policies": {
            "holding_wait_limit_hours": scenario.policies.holding_wait_limit_hours,
            "unseen_wait_limit_hours": scenario.policies.unseen_wait_limit_hours,
        },
    }


def _duration_to_dict(duration: Duration) -> dict[str, Any]:
    data: dict[str, Any] = {"distribution": str(duration.kind), "mean_hours": duration.mean_hours}
    if duration.kind is DurationKind.LOGNORMAL:
        data["sd_hours"] = duration.sd_hours
    return data


def _case_from_dict(data: object, path: str) -> CaseClass:
    reader = ObjectReader(data, path)
    obj = reader.object(
        required=("name", "share", "consultation"),
        optional=(
            "surgery_probability",
            "surgery",
            "admission_probability",
            "length_of_stay",
            "referral_probability",
            "may_leave_unseen",
        ),
    )
    kwargs: dict[str, Any] = {
        "name": read_string(obj["name"], f"{path}.name"),
        "share": read_number(obj["share"], f"{path}.share"),
        "consultation": _duration_from_dict(obj["consultation"], f"{path}.consultation"),
    }
    for key in ("surgery_probability", "admission_probability", "referral_probability"):
        if key in obj:
            kwargs[key] = read_number(obj[key], f"{path}.{key}")
    for key in ("surgery", "length_of_stay"):
        if key in obj:
            kwargs[key] = _duration_from_dict(obj[key], f"{path}.{key}")
    if "may_leave_unseen" in obj:
        value = obj["may_leave_unseen"]
        if not isinstance(value, bool):
            raise ParameterError(f"{path}.may_leave_unseen", "must be true or false")
        kwargs["may_leave_unseen"] = value
    if kwargs.get("admission_probability", 0.0) > 0 and "length_of_stay" not in obj:
        raise ParameterError(f"{path}.length_of_stay", "required when admission_probability > 0")
    return reader.build(CaseClass, **kwargs)


def _duration_from_dict(data: object, path: str) -> Duration:
    reader = ObjectReader(data, path)
    obj = reader.object(required=("distribution", "mean_hours"), optional=("sd_hours",))
    kind_text = read_string(obj["distribution"], f"{path}.distribution")
    try:
        kind = DurationKind(kind_text)
    except ValueError:
        choices = ", ".join(k.value for k in DurationKind)
        raise ParameterError(
            f"{path}.distribution", f"unknown distribution {kind_text!r} (use {choices})"
        ) from None
    return reader.build(
        Duration,
        kind=kind,
        mean_hours=read_number(obj["mean_hours"], f"{path}.mean_hours"),
        sd_hours=read_number(obj.get("sd_hours", 0.0), f"{path}.sd_hours"),
    )


def _resources_from_dict(data: object, path: str) -> Resources:
    reader = ObjectReader(data, path)
    obj = reader.object(
        required=("consultation_stations", "beds"),
        optional=("operating_tables", "theatre_hours"),
    )
    hours = TheatreHours()
    if "theatre_hours" in obj:
        hours_reader = ObjectReader(obj["theatre_hours"], f"{path}.theatre_hours")
        hours_obj = hours_reader.object(required=("opens", "closes"), optional=())
        hours = hours_reader.build(
            TheatreHours,
            opens=read_number(hours_obj["opens"], f"{path}.theatre_hours.opens"),
            closes=read_number(hours_obj["closes"], f"{path}.theatre_hours.closes"),
        )
    return reader.build(
        Resources,
        consultation_stations=read_integer(
            obj["consultation_stations"], f"{path}.consultation_stations"
        ),
        beds=read_integer(obj["beds"], f"{path}.beds"),
        operating_tables=read_integer(obj.get("operating_tables", 0), f"{path}.operating_tables"),
        theatre_hours=hours,
    )


def _policies_from_dict(data: object, path: str) -> Policies:
    reader = ObjectReader(data, path)
    obj = reader.object(
        required=(), optional=("holding_wait_limit_hours", "unseen_wait_limit_hours")
    )
    kwargs: dict[str, Any] = {}
    for key in ("holding_wait_limit_hours", "unseen_wait_limit_hours"):
        if key in obj:
            value = obj[key]
            kwargs[key] = None if value is None else read_number(value, f"{path}.{key}")
    return reader.build(Policies, **kwargs)


def _require_finite(path: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not is_finite_number(value):
        raise ParameterError(path, f"must be a finite number, got {value!r}")


def _require_at_most(path: str, value: float, limit: float) -> None:
    if value > limit:
        raise ParameterError(
            path, f"must be at most {shown_number(limit)}, got {shown_number(value)}"
        )


def _require_count(path: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(path, f"must be a whole number, got {value!r}")
    if value < minimum:
        raise ParameterError(path, f"must be >= {minimum}, got {value}")
