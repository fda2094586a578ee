"""Read and validate an allocation problem from JSON, reporting every error with its path."""

from __future__ import annotations

import functools
import json
import math
import numbers
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from medevac.domain.errors import json_error
from medevac.domain.limits import MAX_COUNT, MAX_DAYS, separator_fault, text_fault
from medevac.domain.vocabulary import Specialty
from medevac.planning import json_text
from medevac.planning.json_text import cut, join_path, key_names, printable
from medevac.planning.problem import (
    CurrentPlacement,
    Facility,
    Patient,
    PrecedenceRule,
    Problem,
    Weights,
)

MAX_HORIZON_DAYS = 366
# Upper limits far above any real operation, so that the engines' fixed-width arithmetic cannot
# overflow (a bed count of 10**20 passed validation and made the engines fail with an
# OverflowError; weights near 1e308 made the objective infinite). Beds and admissions a day
# (MAX_COUNT) and days of a stay or a deadline (MAX_DAYS) are the registry's own limits, from
# `medevac.domain.limits`, so that `medevac plan build` always writes a problem this loader
# takes; every weight is at most:
MAX_WEIGHT = 1e9
KNOWN_SPECIALTIES = frozenset(s.value for s in Specialty)
_NUMBERS = (int, float)  # a tuple: isinstance with `int | float` is slower, per field of 100,000
# numbers handed in by Python code rather than read from a file (numpy's scalars, Decimal):
# taken as the numbers they are, not refused as "not a number"
_OTHER_NUMBERS = (numbers.Real, Decimal)
WEIGHT_KEYS = ("unplaced", "wait_per_day", "late_per_day", "travel_per_km", "group_split", "change")


class ProblemError(ValueError):
    """The problem file is wrong; ``errors`` lists every problem found as ``path: reason``."""

    SHOWN = 5  # errors named in the message; ``errors`` holds them all

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        shown = "; ".join(self.errors[: self.SHOWN])
        left = len(self.errors) - self.SHOWN
        more = f" (and {left} more)" if left > 0 else ""
        super().__init__(f"{len(self.errors)} error(s) in problem: {shown}{more}")


class _Reader:
    """Collects errors while reading typed fields out of untyped JSON."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, path: str, reason: str) -> None:
        self.errors.append(f"{path}: {reason}")

    def obj(
        self, value: Any, path: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> Mapping[str, Any] | None:
        if type(value) is not dict and not isinstance(value, Mapping):
            self.error(path, f"must be an object, got {_kind(value)}")
            return None
        for key in required:
            if key not in value:
                self.error(join_path(path, key), "is missing")
        allowed = _allowed_keys(required, optional)
        if not value.keys() <= allowed:
            for key in value:
                if key not in allowed:
                    self.error(
                        join_path(path, key),
                        f"is not a known key (allowed: {', '.join(sorted(allowed))})",
                    )
        return value

    def integer(
        self, value: Any, path: str, low: int | None = None, high: int | None = None
    ) -> int:
        number = value if type(value) is int else _whole(value)  # the call only where needed
        if isinstance(value, json_text.OutOfRange):  # whole as written, beyond a float
            self.error(path, _out_of_range(value, low, high))
            return (high if value > 0 else low) or 0
        if number is None:
            self.error(path, f"must be a whole number, got {_show(value)}")
            return low if low is not None else 0
        if low is not None and number < low:
            self.error(path, f"must be at least {low}, got {_show(value)}")
            return low
        if high is not None and number > high:
            self.error(path, f"must be at most {high}, got {_show(value)}")
            return high
        return number

    def number(
        self, value: Any, path: str, low: float | None = None, high: float | None = None
    ) -> float:
        number = value if type(value) is float else _real(value)  # the call only where needed
        if isinstance(value, json_text.OutOfRange):  # finite as written, beyond a float
            self.error(path, _out_of_range(value, low, high))
            return (high if value > 0 else low) or 0.0
        if number is None or not math.isfinite(number):
            self.error(path, f"must be a finite number, got {_show(value)}")
            return low if low is not None else 0.0
        # the value as given, not rounded (`90.0000001` had been shown as `90`, within limits);
        # a number the float rounds to a limit (`90.000000000000001`) is checked as written
        rounded = type(value) is json_text.Rounded
        if low is not None and (number < low or (rounded and number == low and not value.above)):
            self.error(path, f"must be at least {low:g}, got {_show(value)}")
            return low
        if high is not None and (number > high or (rounded and number == high and value.above)):
            self.error(path, f"must be at most {high:g}, got {_show(value)}")
            return high
        return number

    def text(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.error(path, f"must be a non-empty string, got {_show(value)}")
            return ""
        # a plan naming it could not be written, read or stored; a line separator is a line
        # break to many tools that read the plan (found by a review)
        fault = text_fault(value) or separator_fault(value)
        if fault is not None:
            self.error(path, fault)
            return ""
        return value

    def text_set(self, value: Any, path: str) -> frozenset[str]:
        if not isinstance(value, list):
            self.error(path, f"must be a list of strings, got {_kind(value)}")
            return frozenset()
        return frozenset(self.text(item, f"{path}[{i}]") for i, item in enumerate(value))


@functools.cache
def _allowed_keys(required: tuple[str, ...], optional: tuple[str, ...]) -> frozenset[str]:
    return frozenset(required + optional)


def _real(value: Any) -> float | None:
    """``value`` as a float where it is a number (infinite for an integer too large for a
    float), None where it is not one; a boolean is not."""
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, _NUMBERS + _OTHER_NUMBERS):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer too large for a float
        return math.inf
    except ValueError:  # Decimal's signalling NaN
        return math.nan


def _whole(value: Any) -> int | None:
    """``value`` as an int where it is a whole number as written (an integer, or a number
    with no fraction: `3.0`, `1e2`), None where it is not one; a boolean is not, nor a number
    a float rounds to a whole one (`2.9999999999999999`, `1e-400`: `json_text.Rounded`)."""
    if type(value) is int:
        return value
    if isinstance(value, bool | json_text.Rounded):
        return None
    if isinstance(value, numbers.Integral):  # numpy's integers
        return int(value)
    number = _real(value)
    if number is None or not number.is_integer():  # nor infinite, nor NaN
        return None
    return int(number)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if type(value) not in names and isinstance(value, numbers.Number):
        return "a number"
    return names.get(type(value), type(value).__name__)


def _out_of_range(value: json_text.OutOfRange, low: float | None, high: float | None) -> str:
    """What is wrong with a number too large for a float (`1e400`, 400 digits), which the file
    wrote as a finite number: beyond the limit where there is one (it had been called "not a
    whole number" or "not finite")."""
    if value > 0 and high is not None:
        return f"must be at most {high:g}, got {_show(value)}"
    if value < 0 and low is not None:
        return f"must be at least {low:g}, got {_show(value)}"
    return f"is too large to be read as a number, got {_show(value)}"


def _show(value: Any) -> str:
    if isinstance(value, json_text.WrittenNumber):  # as the file wrote it, not `Infinity`
        return cut(value.text)  # nor the whole number a float rounded it to
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        # shown by its size: Python refuses to write out integers of over 4,300 digits
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):  # not JSON: handed in by Python code, not read from a file
        text = str(value) if isinstance(value, numbers.Number) else repr(value)
    except RecursionError:  # nested almost as deep as the decoder allows, then deeper still
        return f"{_kind(value)} nested too deeply to show"
    return cut(text)


def parse_problem(data: Any) -> Problem:
    """Validate a decoded problem document; raise ProblemError listing every error found."""
    if not isinstance(data, Mapping):  # said as such: an empty path named nothing
        raise ProblemError([f"the problem: must be an object, got {_kind(data)}"])
    r = _Reader()
    root = r.obj(data, "", ("horizon_days", "precedences", "weights", "facilities", "patients"))
    assert root is not None  # an object, as checked above
    # None where horizon_days is missing or wrong: what depends on it (the length of a list of
    # beds, the last day of earliest_day and current.day) is left unchecked, not checked
    # against a stand-in horizon that gave false errors (`has 2 daily values; horizon_days
    # is 1`)
    horizon = None
    if "horizon_days" in root:
        before = len(r.errors)
        days = r.integer(root["horizon_days"], "horizon_days", 1, MAX_HORIZON_DAYS)
        horizon = days if len(r.errors) == before else None
    # a missing section is reported once (above), not again for each of its fields; nor are
    # references into a section that could not be read (missing, malformed, empty) reported
    # as undefined for each patient that makes them
    precedences = _parse_precedences(r, root["precedences"]) if "precedences" in root else {}
    weights = (
        _parse_weights(r, root["weights"])
        if "weights" in root
        else Weights(**dict.fromkeys(WEIGHT_KEYS, 0.0))
    )
    facilities, whole = (
        _parse_facilities(r, root["facilities"], horizon) if "facilities" in root else ([], False)
    )
    offered = {s for f in facilities for s in f.beds} if whole else None
    facility_ids = {f.id for f in facilities} if whole else None
    patients = _parse_patients(
        r, root.get("patients", []), horizon, precedences or None, offered, facility_ids
    )
    if r.errors or horizon is None:
        raise ProblemError(r.errors)
    return Problem(horizon, precedences, weights, tuple(facilities), tuple(patients))


def load_problem(path: str | Path) -> Problem:
    """Read a problem JSON file; raise ProblemError (never another exception) when it is wrong."""
    return parse_problem(read_problem_file(path))


def read_problem_file(path: str | Path) -> Any:
    """The JSON of a problem file, for `parse_problem` (and for a digest of the document read,
    without reading it twice); ProblemError where it cannot be read or is not JSON."""
    try:
        # without a byte-order mark, as some editors begin UTF-8 files with
        text = json_text.read_text(path)
    except OSError as exc:
        raise ProblemError([f"{path}: cannot be read ({exc.strerror or exc})"]) from exc
    except UnicodeDecodeError as exc:
        raise ProblemError([f"{path}: is not UTF-8 text"]) from exc
    except json_text.FileTooLarge as exc:
        raise ProblemError([f"{path}: {exc}"]) from exc
    try:
        data = json_text.loads(text)
    except json_text.RepeatedKeys as exc:  # paths made by `join_path`: escaped already
        raise ProblemError([printable(line) for line in exc.lines()]) from exc
    except (ValueError, RecursionError) as exc:
        raise ProblemError([f"{path}: is not valid JSON ({json_error(exc, text)})"]) from exc
    return data


def _parse_precedences(r: _Reader, value: Any) -> dict[str, PrecedenceRule]:
    """The precedences by name; a name whose rule is wrong is kept (with a stand-in rule, its
    error reported) so that the patients that name it are not said to name nothing."""
    rules: dict[str, PrecedenceRule] = {}
    if not isinstance(value, Mapping):
        r.error("precedences", f"must be an object, got {_kind(value)}")
        return rules
    if not value:
        r.error("precedences", "must define at least one precedence")
    for name, spec in value.items():
        path = join_path("precedences", name)
        if not str(name).strip():
            r.error(path, "precedence names must be non-empty")
        elif (fault := text_fault(str(name)) or separator_fault(str(name))) is not None:
            r.error(path, fault)
            continue
        body = r.obj(spec, path, ("weight", "deadline_day"))
        if body is None:
            rules[str(name)] = PrecedenceRule(0.0, 0)
            continue
        weight = r.number(body.get("weight", 0), f"{path}.weight", 0.0, MAX_WEIGHT)
        deadline = r.integer(body.get("deadline_day", 0), f"{path}.deadline_day", 0, MAX_DAYS)
        rules[str(name)] = PrecedenceRule(weight, deadline)
    return rules


def _parse_weights(r: _Reader, value: Any) -> Weights:
    body = r.obj(value, "weights", WEIGHT_KEYS)
    numbers = dict.fromkeys(WEIGHT_KEYS, 0.0)
    if body is not None:
        for key in WEIGHT_KEYS:
            if key in body:
                numbers[key] = r.number(body[key], f"weights.{key}", 0.0, MAX_WEIGHT)
    return Weights(**numbers)


def _parse_facilities(r: _Reader, value: Any, horizon: int | None) -> tuple[list[Facility], bool]:
    """The facilities, and whether each was read with its id and its beds: where one was not,
    the patients' facilities and specialties are not checked against them (a patient's
    `current.facility` is not said to be unknown because the facilities could not be read)."""
    facilities: list[Facility] = []
    if not isinstance(value, list):
        r.error("facilities", f"must be a list, got {_kind(value)}")
        return facilities, False
    whole = True
    seen: dict[str, int] = {}
    for i, item in enumerate(value):
        path = f"facilities[{i}]"
        body = r.obj(
            item,
            path,
            ("id", "lat", "lon", "beds"),
            ("capabilities", "accepts_from", "daily_admission_limit"),
        )
        if body is None:
            whole = False
            continue
        fid = r.text(body.get("id", ""), f"{path}.id") if "id" in body else ""
        whole = whole and bool(fid) and isinstance(body.get("beds"), Mapping)
        if fid and fid in seen:
            r.error(f"{path}.id", f"{cut(repr(fid))} duplicates facilities[{seen[fid]}].id")
        elif fid:
            seen[fid] = i
        lat = r.number(body.get("lat", 0.0), f"{path}.lat", -90.0, 90.0)
        lon = r.number(body.get("lon", 0.0), f"{path}.lon", -180.0, 180.0)
        beds = _parse_beds(r, body.get("beds", {}), f"{path}.beds", horizon)
        caps = (
            r.text_set(body["capabilities"], f"{path}.capabilities")
            if "capabilities" in body
            else frozenset()
        )
        accepts = (
            r.text_set(body["accepts_from"], f"{path}.accepts_from")
            if "accepts_from" in body
            else None
        )
        limit = (
            r.integer(body["daily_admission_limit"], f"{path}.daily_admission_limit", 0, MAX_COUNT)
            if "daily_admission_limit" in body
            else None
        )
        facilities.append(Facility(fid, lat, lon, beds, caps, accepts, limit))
    return facilities, whole


def _parse_beds(
    r: _Reader, value: Any, path: str, horizon: int | None
) -> dict[str, tuple[int, ...]]:
    """The beds by specialty; a specialty whose beds are wrong is kept (with no beds, its
    error reported) so that its patients are not said to have a specialty none offers."""
    beds: dict[str, tuple[int, ...]] = {}
    if not isinstance(value, Mapping):
        r.error(path, f"must be an object mapping specialty to beds, got {_kind(value)}")
        return beds
    for specialty, count in value.items():
        spath = join_path(path, specialty)
        name = str(specialty)
        if not name.strip():
            r.error(spath, "specialty names must be non-empty")
            continue
        if (fault := text_fault(name) or separator_fault(name)) is not None:
            r.error(spath, fault)
            continue
        if isinstance(count, list):
            if horizon is not None and len(count) != horizon:
                r.error(spath, f"has {len(count)} daily values; horizon_days is {horizon}")
                beds[name] = ()
                continue
            beds[name] = tuple(
                r.integer(c, f"{spath}[{d}]", 0, MAX_COUNT) for d, c in enumerate(count)
            )
        elif _real(count) is None:  # an object, a string, null: not one number either
            days = "horizon_days" if horizon is None else f"horizon_days ({horizon})"
            r.error(
                spath,
                f"must be a whole number or a list of {days} whole numbers, got {_show(count)}",
            )
            beds[name] = ()
        else:
            beds[name] = (r.integer(count, spath, 0, MAX_COUNT),) * (horizon or 1)
    return beds


def _parse_patients(
    r: _Reader,
    value: Any,
    horizon: int | None,
    precedences: Mapping[str, PrecedenceRule] | None,
    offered: set[str] | None,
    facility_ids: set[str] | None,
) -> list[Patient]:
    """The patients; what they name is checked against the precedences, the specialties
    offered and the facility ids where those could be read (each None where not)."""
    patients: list[Patient] = []
    if not isinstance(value, list):
        r.error("patients", f"must be a list, got {_kind(value)}")
        return patients
    seen: dict[str, int] = {}
    for i, item in enumerate(value):
        path = f"patients[{i}]"
        body = r.obj(
            item,
            path,
            ("id", "lat", "lon", "specialty", "precedence", "length_of_stay_days"),
            ("earliest_day", "needs", "organisation", "group", "max_distance_km", "current"),
        )
        if body is None:
            continue
        pid = r.text(body.get("id", ""), f"{path}.id") if "id" in body else ""
        if pid and pid in seen:
            r.error(f"{path}.id", f"{cut(repr(pid))} duplicates patients[{seen[pid]}].id")
        elif pid:
            seen[pid] = i
        lat = r.number(body.get("lat", 0.0), f"{path}.lat", -90.0, 90.0)
        lon = r.number(body.get("lon", 0.0), f"{path}.lon", -180.0, 180.0)
        specialty = (
            r.text(body.get("specialty", ""), f"{path}.specialty") if "specialty" in body else ""
        )
        if (
            specialty
            and offered is not None
            and specialty not in offered
            and specialty not in KNOWN_SPECIALTIES
        ):
            r.error(
                f"{path}.specialty",
                f"{_show(specialty)} is not offered by any facility and is not a known specialty",
            )
        precedence = (
            r.text(body.get("precedence", ""), f"{path}.precedence") if "precedence" in body else ""
        )
        if precedence and precedences is not None and precedence not in precedences:
            r.error(
                f"{path}.precedence",
                f"{_show(precedence)} is not defined in precedences ({key_names(precedences)})",
            )
        stay = r.integer(
            body.get("length_of_stay_days", 1), f"{path}.length_of_stay_days", 1, MAX_DAYS
        )
        last = None if horizon is None else horizon - 1
        earliest = r.integer(body.get("earliest_day", 0), f"{path}.earliest_day", 0, last)
        needs = r.text_set(body["needs"], f"{path}.needs") if "needs" in body else frozenset()
        organisation = (
            r.text(body["organisation"], f"{path}.organisation") if "organisation" in body else None
        )
        group = r.text(body["group"], f"{path}.group") if "group" in body else None
        max_distance = (
            r.number(body["max_distance_km"], f"{path}.max_distance_km", 0.0)
            if "max_distance_km" in body
            else None
        )
        current = (
            _parse_current(r, body["current"], f"{path}.current", horizon, facility_ids)
            if "current" in body
            else None
        )
        patients.append(
            Patient(
                pid,
                lat,
                lon,
                specialty,
                precedence,
                stay,
                earliest,
                needs,
                organisation,
                group,
                max_distance,
                current,
            )
        )
    return patients


def _parse_current(
    r: _Reader, value: Any, path: str, horizon: int | None, facility_ids: set[str] | None
) -> CurrentPlacement | None:
    body = r.obj(value, path, ("facility", "day"))  # null too: no current place is no key
    if body is None:
        return None
    facility = r.text(body.get("facility", ""), f"{path}.facility") if "facility" in body else ""
    if facility and facility_ids is not None and facility not in facility_ids:
        r.error(f"{path}.facility", f"{cut(repr(facility))} is not a facility of this problem")
    day = r.integer(body.get("day", 0), f"{path}.day", 0, None if horizon is None else horizon - 1)
    return CurrentPlacement(facility, day)


def problem_to_dict(problem: Problem) -> dict[str, Any]:
    """The JSON form of a problem (beds written as one number when constant over the horizon)."""
    return {
        "horizon_days": problem.horizon_days,
        "precedences": {
            name: {"weight": rule.weight, "deadline_day": rule.deadline_day}
            for name, rule in problem.precedences.items()
        },
        "weights": {key: getattr(problem.weights, key) for key in WEIGHT_KEYS},
        "facilities": [_facility_to_dict(f) for f in problem.facilities],
        "patients": [_patient_to_dict(p) for p in problem.patients],
    }


def _facility_to_dict(f: Facility) -> dict[str, Any]:
    out: dict[str, Any] = {"id": f.id, "lat": f.lat, "lon": f.lon}
    if f.capabilities:
        out["capabilities"] = sorted(f.capabilities)
    if f.accepts_from is not None:
        out["accepts_from"] = sorted(f.accepts_from)
    if f.daily_admission_limit is not None:
        out["daily_admission_limit"] = f.daily_admission_limit
    out["beds"] = {
        s: (days[0] if len(set(days)) == 1 else list(days)) for s, days in f.beds.items()
    }
    return out


def _patient_to_dict(p: Patient) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.id,
        "lat": p.lat,
        "lon": p.lon,
        "specialty": p.specialty,
        "precedence": p.precedence,
        "length_of_stay_days": p.length_of_stay_days,
    }
    if p.earliest_day:
        out["earliest_day"] = p.earliest_day
    if p.needs:
        out["needs"] = sorted(p.needs)
    if p.organisation is not None:
        out["organisation"] = p.organisation
    if p.group is not None:
        out["group"] = p.group
    if p.max_distance_km is not None:
        out["max_distance_km"] = p.max_distance_km
    if p.current is not None:
        out["current"] = {"facility": p.current.facility, "day": p.current.day}
    return out
