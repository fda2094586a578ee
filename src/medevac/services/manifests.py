"""The manifest `plan build` writes beside a problem: what the problem was built from
(patient versions, capacity report times, beds held, agreements' quotas and ends), read
back and checked for the engines and the approval."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from medevac.domain.errors import InvalidValue
from medevac.domain.limits import MAX_COUNT
from medevac.domain.vocabulary import Specialty
from medevac.planning import (
    Plan,
    Problem,
    Quota,
    with_acceptance_ends,
    with_admissions_taken,
    with_quotas,
)


@dataclass(frozen=True, slots=True)
class Hold:
    """Beds a patient sent earlier holds: one a day in a facility's specialty from ``first``
    for ``stay`` days."""

    facility_id: str
    specialty: str
    first: date
    stay: int

    def key(self) -> str:
        """As the manifest's "held" records it: "FACILITY@specialty@YYYY-MM-DD+stay"."""
        return f"{self.facility_id}@{self.specialty}@{self.first.isoformat()}+{self.stay}"

    def said(self) -> str:
        """As people read it: "a neurology bed at FAC-LODZ-MMA from 2026-12-07 for 32 days"
        ("an orthopaedics bed": a specialty written with a vowel first takes "an")."""
        days = "day" if self.stay == 1 else "days"
        kind = self.specialty.replace("_", " ")
        article = "an" if kind[:1].lower() in set("aeio") else "a"
        return (
            f"{article} {kind} bed at {self.facility_id} from "
            f"{self.first.isoformat()} for {self.stay} {days}"
        )

    @classmethod
    def parse(cls, key: str) -> Hold | None:
        """The hold of a `key` (facility ids may hold "@"), or None for a text that is not one."""
        facility, _, rest = key.rpartition("@")
        facility, _, specialty = facility.rpartition("@")
        first, _, stay = rest.partition("+")
        try:
            return cls(facility, specialty, date.fromisoformat(first), int(stay))
        except ValueError:
            return None

    def days(self, start: date, end: date) -> tuple[date, date]:
        """The days it holds from ``start`` to before ``end``: (first, end), empty if equal."""
        first = max(self.first, start)
        last = min(self.first + timedelta(days=self.stay), end)
        return (first, last) if first < last else (start, start)

    def within(self, other: Hold, start: date, end: date) -> bool:
        """True when every bed this hold takes from ``start`` to before ``end``, ``other``
        takes too."""
        first, last = self.days(start, end)
        if first == last:
            return True
        other_first, other_last = other.days(start, end)
        return (
            (self.facility_id, self.specialty) == (other.facility_id, other.specialty)
            and other_first <= first
            and last <= other_last
        )


def arrival_key(facility: str, day: int) -> str:
    """A key of the manifest's "held_admissions": "FACILITY/day"."""
    return f"{facility}/{day}"


def _arrival_place(key: str) -> tuple[str, int] | None:
    """(facility, day) of an `arrival_key` (ids may hold "/"; the day follows the last), or
    None for a key that is not one."""
    facility, _, day = key.rpartition("/")
    return (facility, int(day)) if facility and day.isdigit() else None


def arrivals(manifest: dict[str, Any]) -> list[tuple[str, int, int]]:
    """The manifest's patients sent earlier who arrive within the horizon: (facility, day,
    count), for the engines to count against the daily admission limits
    (`medevac.planning.with_admissions_taken`). InvalidValue where "held_admissions" is not as
    `plan build` wrote it."""
    _check_map(manifest, "held_admissions")
    found = []
    for key, count in manifest["held_admissions"].items():  # a map, as checked
        place = _arrival_place(key)
        if place is None:
            raise InvalidValue(
                "manifest",
                f"'held_admissions' has {key!r}, not FACILITY/day; it was not written by "
                "`medevac plan build` as it is: build the problem again",
            )
        found.append((*place, count))
    return found


#: the fields of an entry of the manifest's "quotas" (`Quota`), as `plan build` writes them;
#: "days" (the admission days it holds on) only where it holds on some days only, since
#: 2026-12-07 (a manifest without it: every day)
_QUOTA_FIELDS = ("id", "room", "organisations", "facilities", "specialties")
_QUOTA_DAYS = "days"
#: the end of every refusal of a manifest's "quotas"
_NOT_AS_BUILT = "it was not written by `medevac plan build` as it is: build the problem again"


_SPECIALTIES = frozenset(s.value for s in Specialty)


def quotas(manifest: dict[str, Any]) -> list[Quota]:
    """The quotas of agreements the manifest carries ("quotas", `carry_quotas`), for the
    engines to keep to (`medevac.planning.with_quotas`); none for a manifest written before
    they were. InvalidValue naming the entry and its field where "quotas" is not as `plan
    build` wrote it."""
    entries = manifest.get("quotas", [])
    if not isinstance(entries, list):
        raise InvalidValue("manifest", f"'quotas' must be a list of quotas; {_NOT_AS_BUILT}")
    return [_quota(number, entry) for number, entry in enumerate(entries)]


def _entry_refusal(
    key: str, number: int, entry: Any, fields: tuple[str, ...], kind: str, name: str | None
) -> Callable[[str], InvalidValue]:
    """Refuse entry ``number`` of the manifest's list ``key`` unless it is an object with
    exactly ``fields`` (those of ``kind``, "a quota"); return how to refuse it for anything
    else, naming the entry and ``name`` (what it is called, where it says)."""
    where = f"'{key}' entry {number}"
    if not isinstance(entry, dict):
        raise InvalidValue("manifest", f"{where} is not an object; {_NOT_AS_BUILT}")
    if name:
        where += f" ({name})"

    def wrong(what: str) -> InvalidValue:
        return InvalidValue("manifest", f"{where}: {what}; {_NOT_AS_BUILT}")

    missing = [field for field in fields if field not in entry]
    if missing:
        raise wrong(f"'{missing[0]}' is missing")
    unknown = sorted(set(entry) - set(fields))
    if unknown:
        raise wrong(f"'{unknown[0]}' is not a field of {kind}")
    return wrong


def _quota(number: int, entry: Any) -> Quota:
    """Entry ``number`` of a manifest's "quotas" as a `Quota` (`quotas`)."""
    named = entry.get("id") if isinstance(entry, dict) else None
    label = named if isinstance(named, str) and named else None
    fields = (
        (*_QUOTA_FIELDS, _QUOTA_DAYS)
        if isinstance(entry, dict) and "days" in entry
        else _QUOTA_FIELDS
    )
    wrong = _entry_refusal("quotas", number, entry, fields, "a quota", label)
    if not isinstance(named, str) or not named:
        raise wrong("'id' must be an agreement's id")
    room = entry["room"]
    if not isinstance(room, int) or isinstance(room, bool) or room < 0:
        raise wrong(f"'room' must be a count of patients, not {room!r}")
    if room > MAX_COUNT:
        raise wrong(f"'room' must be a count of patients, at most {MAX_COUNT:,}, not {room:.3g}")
    lists: dict[str, frozenset[str]] = {}
    for name in ("organisations", "facilities", "specialties"):
        value = entry[name]
        if name == "specialties" and value is None:  # every specialty
            continue
        if not isinstance(value, list) or not all(isinstance(i, str) and i for i in value):
            raise wrong(f"'{name}' must be a list of ids")
        if not value and name != "specialties":
            raise wrong(f"'{name}' is empty")
        unknown = [i for i in value if name == "specialties" and i not in _SPECIALTIES]
        if unknown:  # would cover nobody, and the quota would be dropped unsaid
            raise wrong(f"'specialties' has {unknown[0]!r}, which is not a specialty")
        lists[name] = frozenset(value)
    days = entry.get(_QUOTA_DAYS)
    if days is not None and not (
        isinstance(days, list)
        and days
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in days)
        and days == sorted(set(days))
    ):
        raise wrong("'days' must be a list of day numbers (0 and up), in order, each once")
    return Quota(
        named,
        room,
        lists["organisations"],
        lists["facilities"],
        lists.get("specialties"),
        None if days is None else frozenset(days),
    )


#: the fields of an entry of the manifest's "acceptance_ends", as `plan build` writes them
_END_FIELDS = ("facility", "organisation", "last_day")


def acceptance_ends(manifest: dict[str, Any]) -> list[tuple[str, str, int]]:
    """The ends of acceptance the manifest carries ("acceptance_ends", `agreement_ends`):
    (facility, organisation as the problem's patients name it, last admission day), for the
    engines to keep to (`medevac.planning.with_acceptance_ends`); none for a manifest written
    before they were. InvalidValue naming the entry and its field where "acceptance_ends" is
    not as `plan build` wrote it (a second end for the same facility and organisation too)."""
    entries = manifest.get("acceptance_ends", [])
    if not isinstance(entries, list):
        raise InvalidValue(
            "manifest", f"'acceptance_ends' must be a list of ends of acceptance; {_NOT_AS_BUILT}"
        )
    found: list[tuple[str, str, int]] = []
    seen: dict[tuple[str, str], int] = {}
    for number, entry in enumerate(entries):
        end = _acceptance_end(number, entry)
        earlier = seen.setdefault(end[:2], number)
        if earlier != number:
            raise InvalidValue(
                "manifest",
                f"'acceptance_ends' entry {number} ({end[0]}, {end[1]}): a second end for them "
                f"(entry {earlier} is the first); {_NOT_AS_BUILT}",
            )
        found.append(end)
    return found


def _acceptance_end(number: int, entry: Any) -> tuple[str, str, int]:
    """Entry ``number`` of a manifest's "acceptance_ends" as (facility, organisation, last
    day) (`acceptance_ends`)."""
    facility, organisation = (
        (entry.get("facility"), entry.get("organisation"))
        if isinstance(entry, dict)
        else (None, None)
    )
    label = None
    if isinstance(facility, str) and facility and isinstance(organisation, str) and organisation:
        label = f"{facility}, {organisation}"
    wrong = _entry_refusal(
        "acceptance_ends", number, entry, _END_FIELDS, "an end of acceptance", label
    )
    if not isinstance(facility, str) or not facility:
        raise wrong("'facility' must be a facility's id")
    if not isinstance(organisation, str) or not organisation:
        raise wrong("'organisation' must be an organisation's id")
    last = entry["last_day"]
    if not isinstance(last, int) or isinstance(last, bool) or last < 0:
        raise wrong(f"'last_day' must be a day of the problem (0 or later), not {last!r}")
    return facility, organisation, last


def with_manifest(problem: Problem, manifest: dict[str, Any]) -> Problem:
    """``problem`` as the engines solve it beside its manifest: the admissions already due
    that the manifest keeps counted against the daily admission limits
    (`with_admissions_taken`), the agreements' quotas it carries kept (`with_quotas`), and
    the ends of acceptance it carries kept (`with_acceptance_ends`: agreements that end
    within the horizon). InvalidValue where the manifest is not as `plan build` wrote it;
    ValueError (naming the facility or quota) where it does not fit the problem."""
    counted = with_quotas(with_admissions_taken(problem, arrivals(manifest)), quotas(manifest))
    return with_acceptance_ends(counted, acceptance_ends(manifest))


def admission_limit_overruns(
    problem: dict[str, Any], manifest: dict[str, Any], plan: Plan
) -> list[str]:
    """Days on which a plan's admissions and the patients sent earlier who arrive then (the
    manifest's "held_admissions", on the days of the build) pass a facility's daily admission
    limit, one line each. The approval refuses such a plan (it checks it against the problem
    with these admissions taken, `with_admissions_taken`), no longer only saying so."""
    held = arrivals(manifest)
    if not held:
        return []
    limits = {
        f["id"]: f["daily_admission_limit"]
        for f in problem["facilities"]
        if "daily_admission_limit" in f
    }
    planned: dict[tuple[str, int], int] = defaultdict(int)
    for assignment in plan.assignments:
        planned[(assignment.facility, assignment.day)] += 1
    lines = []
    for facility, day, count in held:
        limit = limits.get(facility)
        if limit is not None and planned[(facility, day)] + count > limit:
            lines.append(
                f"{facility} day {day}: {planned[(facility, day)]} admissions planned and "
                f"{count} patient(s) sent earlier arriving, against a daily limit of {limit}"
            )
    return lines


# what a manifest maps, and to what (`plan build` writes it; approval compares the registry
# with it). Besides the maps, "built_at", "problem_sha256" and "manifest_sha256" are texts,
# "quotas" a list of the agreements' quotas the engines keep to (`quotas` checks it), and
# "acceptance_ends" one of the ends of agreements within the horizon (`acceptance_ends`).
MANIFEST_MAPS = {
    "patients": int,
    "capacity": str,
    "left_out": int,
    "facilities": int,
    "agreements": int,
    "held_admissions": int,
    "held": str,
    "live_plans": int,
    "excluded": int,
    "kept": str,
    "not_carried": str,
}
#: maps a manifest written before they were kept lacks: read as empty
OPTIONAL_MAPS = frozenset({"kept", "not_carried"})


#: the key of a manifest's digest of the rest of it (`seal`)
MANIFEST_DIGEST = "manifest_sha256"


def document_digest(document: dict[str, Any]) -> str:
    """SHA-256 of a document's content (keys sorted, no spaces): the same for the same content
    however its file is laid out, different once anything in it is edited (0.22 s for a
    problem of 100,000 patients)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal(manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` with the digest of its content (`MANIFEST_DIGEST`), as `plan build` writes
    it: an edit of the manifest shows as one of the problem does (its "problem_sha256"). A
    digest it holds already is made anew."""
    content = unsealed(manifest)
    return {**content, MANIFEST_DIGEST: document_digest(content)}


def unsealed(manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` without its own digest: what the digest covers."""
    return {key: value for key, value in manifest.items() if key != MANIFEST_DIGEST}


def seal_fault(manifest: dict[str, Any]) -> str | None:
    """Why ``manifest`` is not as `plan build` wrote it, by its digest (`seal`), or None. Its
    "built_at" sets the dates of every admission, its versions what approval compares, and
    its quotas, ends and arrivals what the engines keep to: none may be edited by hand."""
    digest = manifest.get(MANIFEST_DIGEST)
    if digest is None or "problem_sha256" not in manifest:
        return (
            f"has no '{MANIFEST_DIGEST}' or 'problem_sha256': it was written by medevac before "
            "2026-12-06 or cut short; build the problem again"
        )
    if digest != document_digest(unsealed(manifest)):
        return (
            "was changed after `medevac plan build` wrote it (its content is not what its "
            f"'{MANIFEST_DIGEST}' records): build the problem again"
        )
    return None


def check_manifest(manifest: dict[str, Any]) -> None:
    """Refuse a manifest that `plan build` did not write as it is (edited, cut short): by its
    digest (`seal_fault`), then naming the first key that is wrong, rather than fail inside
    the comparison."""
    fault = seal_fault(manifest)
    if fault is not None:
        raise InvalidValue("manifest", fault)
    for key in MANIFEST_MAPS:
        _check_map(manifest, key)
    for key in manifest["held"].values():
        if Hold.parse(key) is None:
            raise InvalidValue(
                "manifest",
                f"'held' has {key!r}, not FACILITY@specialty@YYYY-MM-DD+stay; it was not "
                "written by `medevac plan build` as it is: build the problem again",
            )
    arrivals(manifest)
    quotas(manifest)
    acceptance_ends(manifest)


def _check_map(manifest: dict[str, Any], key: str) -> None:
    """Refuse a manifest whose map ``key`` (`MANIFEST_MAPS`) is missing or holds other than
    ids to values of its kind."""
    kind = MANIFEST_MAPS[key]
    value = manifest.get(key, {} if key in OPTIONAL_MAPS else None)
    if not isinstance(value, dict) or not all(
        isinstance(k, str)
        and isinstance(v, kind)
        and not isinstance(v, bool)
        and (key != "held_admissions" or _count(v))  # counts the engines add up
        for k, v in value.items()
    ):
        what = {
            "capacity": "report times",
            "held": "held beds",
            "held_admissions": "counts",
            "kept": "admissions kept",
            "not_carried": "the approved places not carried",
        }
        raise InvalidValue(
            "manifest",
            f"'{key}' must map ids to {what.get(key, 'versions')}; "
            "it was not written by `medevac plan build` as it is: build the problem again",
        )


def _count(value: object) -> bool:
    """Whether ``value`` is a whole number from 0 to MAX_COUNT."""
    return isinstance(value, int) and 0 <= value <= MAX_COUNT


def manifest_patients(manifest: dict[str, Any]) -> dict[str, int]:
    """Every patient the problem looked at (planned or left out), with the version it saw."""
    return {**manifest["left_out"], **manifest["patients"]}
