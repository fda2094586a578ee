"""Warnings on a valid problem: what the format allows but is most likely a slip.

The format takes any specialty, capability or organisation a facility names, and any ids, so
a misspelt specialty on a facility ("orthopedics") or an id with an invisible character in it
("P1" and "P1" with a zero-width space) is no error: its beds are simply of no use to the
patients meant, and two look-alike patients are two patients. `plan check` and `plan solve`
print these warnings; they change nothing in the problem.
"""

from __future__ import annotations

import difflib
import json
import unicodedata
from collections import defaultdict

from medevac.planning.loader import KNOWN_SPECIALTIES
from medevac.planning.problem import Problem

#: how alike two names must be (difflib's ratio) to suggest the one for the other
CLOSE = 0.8
#: what difflib may compare in one pass of the warnings, at most, in pairs of characters
#: (`_Budget`): a comparison costs up to the product of the two names' lengths, so this is
#: 50,000 comparisons of names of 16 characters (1.1 s measured on 320 needs and 320
#: capabilities made of the same 8 or 16 letters, each like every other). Each name is compared
#: with every other it could be meant as, so that 2,000 needs of their own and 2,000
#: capabilities took 4 million comparisons, 11-20 s; and two capabilities and two needs of
#: 150,000 characters took 45 s within a budget counted in names (found by a review). Names
#: past it are counted, not compared.
MAX_CHARACTER_PAIRS = 50_000 * 16 * 16
#: the longest name compared for likely misspellings: a slip in a longer one goes unsaid
MAX_COMPARED_LENGTH = 40


class _Names:
    """Names a name could be meant as, those `MAX_COMPARED_LENGTH` long at most, sorted, and
    their characters in all."""

    def __init__(self, names: set[str] | frozenset[str]) -> None:
        self.names = sorted(name for name in names if len(name) <= MAX_COMPARED_LENGTH)
        self.characters = sum(map(len, self.names))


def problem_warnings(problem: Problem) -> list[str]:
    """One line per likely slip, naming where in the file it is."""
    budget = _Budget(MAX_CHARACTER_PAIRS)
    return [
        *_specialties(problem, budget),
        *_needs(problem, budget),
        *_organisations(problem),
        *_look_alikes("patients[{}].id", [p.id for p in problem.patients]),
        *_look_alikes("facilities[{}].id", [f.id for f in problem.facilities]),
        *_look_alikes("patients[{}].group", [p.group for p in problem.patients]),
        *_look_alikes("patients[{}].organisation", [p.organisation for p in problem.patients]),
    ]


#: the most characters of a name a warning quotes (`_quoted`)
SHOWN_NAME = 60


def _quoted(text: str) -> str:
    """``text`` in double quotes, invisible and non-ASCII characters escaped ("P1\\u200b"), cut
    to `SHOWN_NAME` characters (two look-alike ids of 100,000 characters had made a warning
    of 200,000: found by a review)."""
    quoted = json.dumps(text)
    return quoted if len(quoted) <= SHOWN_NAME else quoted[: SHOWN_NAME - 4] + '..."'


class _Budget:
    """The pairs of characters left to compare in a pass of the warnings
    (`MAX_CHARACTER_PAIRS`)."""

    def __init__(self, pairs: int) -> None:
        self.left = pairs

    def allows(self, name: str, names: _Names) -> bool:
        """Whether ``name`` may be compared with each of ``names``; if so, that is spent."""
        cost = max(1, len(name) * names.characters)
        if cost > self.left:
            self.left = 0  # and none later: the names compared are the first of the file
            return False
        self.left -= cost
        return True


class _Skipped:
    """Names of one kind not compared for want of `_Budget`: how many, and where the first is."""

    def __init__(self) -> None:
        self.count = 0
        self.first = ""

    def add(self, path: str) -> None:
        self.count += 1
        self.first = self.first or path

    def lines(self, what: str) -> list[str]:
        """The line that says so, where any were skipped."""
        if not self.count:
            return []
        more = f" (and {self.count - 1} more)" if self.count > 1 else ""
        return [
            f"{self.first}{more}: {self.count:,} {what} not compared for likely misspellings: "
            f"too many names to compare each with every other (the first are compared)"
        ]


_SKIPPED = "\0"  # a name not compared (no name holds a NUL: `text_fault`)


def _close(name: str, names: _Names, budget: _Budget) -> str | None:
    """The one of ``names`` other than ``name`` most like it, where it is like enough; None
    for a name longer than `MAX_COMPARED_LENGTH`, and `_SKIPPED` where ``budget`` does not
    allow the comparisons."""
    if len(name) > MAX_COMPARED_LENGTH:
        return None
    if not budget.allows(name, names):
        return _SKIPPED
    found = difflib.get_close_matches(name, names.names, n=2, cutoff=CLOSE)
    return next((like for like in found if like != name), None)


def _specialties(problem: Problem, budget: _Budget) -> list[str]:
    """Specialties named on facilities that are not known, not needed, and like a known or
    needed one (beds no patient can use), or on patients, not known and like one offered
    (beds these patients cannot use)."""
    warnings = []
    needed = {p.specialty for p in problem.patients}
    meant = _Names(KNOWN_SPECIALTIES | needed)
    skipped = _Skipped()
    # by name: facilities repeat their own categories (5,000 facilities, each with the same 5)
    likes: dict[str, str | None] = {}
    for i, facility in enumerate(problem.facilities):
        for specialty in facility.beds:
            if specialty in KNOWN_SPECIALTIES or specialty in needed:
                continue
            if specialty not in likes:
                likes[specialty] = _close(specialty, meant, budget)
            like = likes[specialty]
            if like == _SKIPPED:
                skipped.add(f"facilities[{i}].beds")
            elif like is not None:
                warnings.append(
                    f"facilities[{i}].beds: {_quoted(specialty)} is not a known specialty and no "
                    f"patient needs it; did you mean {_quoted(like)}? Patients needing "
                    f"{_quoted(like)} cannot use these beds"
                )
    warnings += skipped.lines("specialties on facilities, not known and needed by no patient,")
    first: dict[str, int] = {}
    count: dict[str, int] = defaultdict(int)
    for i, patient in enumerate(problem.patients):
        first.setdefault(patient.specialty, i)
        count[patient.specialty] += 1
    offered = _Names({s for f in problem.facilities for s in f.beds})
    skipped = _Skipped()
    for specialty, i in first.items():
        if specialty in KNOWN_SPECIALTIES:
            continue
        # the loader has every unknown one offered somewhere: a slip only where beds of a
        # specialty like it are offered too, which these patients cannot use
        like = _close(specialty, offered, budget)
        if like == _SKIPPED:
            skipped.add(f"patients[{i}].specialty")
        elif like is not None:
            more = f" (and {count[specialty] - 1} more patients)" if count[specialty] > 1 else ""
            warnings.append(
                f"patients[{i}].specialty{more}: {_quoted(specialty)} is not a known specialty; "
                f"did you mean {_quoted(like)}? Beds of {_quoted(like)} cannot take them"
            )
    return warnings + skipped.lines("specialties of patients, not known,")


def _needs(problem: Problem, budget: _Budget) -> list[str]:
    """Needs no facility has as a capability that are like one some facility has."""
    capabilities = {c for f in problem.facilities for c in f.capabilities}
    meant = _Names(capabilities)
    warnings = []
    said: set[str] = set()
    skipped = _Skipped()
    for i, patient in enumerate(problem.patients):
        for need in sorted(patient.needs - capabilities - said):
            said.add(need)
            like = _close(need, meant, budget)
            if like == _SKIPPED:
                skipped.add(f"patients[{i}].needs")
            elif like is not None:
                warnings.append(
                    f"patients[{i}].needs: {_quoted(need)} is a capability of no facility; did "
                    f"you mean {_quoted(like)}? No facility can take a patient with this need"
                )
    return warnings + skipped.lines("needs no facility has")


def _organisations(problem: Problem) -> list[str]:
    """Organisations a facility accepts that no patient comes from, written as one some
    patient comes from but for case, punctuation or invisible characters ("ORG_A" for
    "ORG-A"): that organisation's patients are turned away. (Codes a letter apart, "ORG-B"
    and "ORG-C", are different partners, not slips.)"""
    senders = {p.organisation for p in problem.patients if p.organisation is not None}
    by_letters: dict[str, str] = {}
    for sender in sorted(senders, reverse=True):  # the first in order, of senders alike
        by_letters[_letters(sender)] = sender
    warnings = []
    for i, facility in enumerate(problem.facilities):
        for organisation in sorted((facility.accepts_from or frozenset()) - senders):
            like = by_letters.get(_letters(organisation))
            if like is not None:
                warnings.append(
                    f"facilities[{i}].accepts_from: {_quoted(organisation)} sends no patient; "
                    f"did you mean {_quoted(like)}? Its patients are not accepted here"
                )
    return warnings


def _key(text: str) -> str:
    """What a reader sees of ``text``: without invisible format characters (zero-width
    spaces, joiners, marks of direction), in compatibility form (full-width letters as
    letters), case folded, spaces at the ends dropped."""
    if text.isascii():  # no format characters, and its own compatibility form
        return text.lower().strip()
    visible = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return unicodedata.normalize("NFKC", visible).casefold().strip()


def _letters(text: str) -> str:
    """`_key` of ``text``, its letters and digits alone."""
    return "".join(ch for ch in _key(text) if ch.isalnum())


def _look_alikes(path: str, values: list[str | None]) -> list[str]:
    """Pairs of different values that read the same (`_key`), by the first of each; ``path``
    places an index in the file ("patients[{}].id")."""
    seen: dict[str, tuple[str, int]] = {}
    warned: set[tuple[str, str]] = set()
    warnings = []
    for i, value in enumerate(values):
        if value is None:
            continue
        key = _key(value)
        first = seen.setdefault(key, (value, i))
        if first[0] != value and (first[0], value) not in warned:
            warned.add((first[0], value))
            warnings.append(
                f"{path.format(i)} {_quoted(value)} looks like {path.format(first[1])} "
                f"{_quoted(first[0])}: they differ only in invisible characters, letter case "
                "or the form of a character, and are taken as different"
            )
    return warnings
