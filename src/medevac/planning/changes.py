"""What a plan changes for the patients its problem gives a current place (re-planning)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from medevac.planning.plan import Assignment, Plan
from medevac.planning.problem import CurrentPlacement, Problem


class ChangeKind(StrEnum):
    """How a patient's current place and its place in the plan differ."""

    DAY = "admission_day_changed"  # the same facility, another day
    MOVED = "moved"  # another facility
    DROPPED = "lost_place"  # no place in the plan


@dataclass(frozen=True, slots=True)
class Change:
    """One patient whose place the plan changes."""

    patient: str
    kind: ChangeKind
    before: CurrentPlacement
    after: Assignment | None

    def line(self) -> str:
        """The change as one sentence."""
        was = f"{self.before.facility} day {self.before.day}"
        if self.after is None:
            return f"{self.patient}: {was} -> no place"
        return f"{self.patient}: {was} -> {self.after.facility} day {self.after.day}"


@dataclass(frozen=True, slots=True)
class PlanChanges:
    """A plan against the current places of its problem's patients."""

    kept: int  # the same facility and day
    changes: tuple[Change, ...]  # most serious first: lost places, moves, then new days
    newly_placed: int  # placed without a current place
    still_unplaced: int  # neither a current place nor one in the plan

    def count(self, kind: ChangeKind) -> int:
        return sum(1 for change in self.changes if change.kind is kind)

    @property
    def with_current(self) -> int:
        return self.kept + len(self.changes)


ORDER = {ChangeKind.DROPPED: 0, ChangeKind.MOVED: 1, ChangeKind.DAY: 2}


def plan_changes(problem: Problem, plan: Plan) -> PlanChanges:
    """Compare every patient's current place (if any) with its place in ``plan``.

    Patients are those of ``problem``; assignments of patients it does not have are ignored
    (`explain` and `check_plan` report such plans).
    """
    return changes_against(((p.id, p.current) for p in problem.patients), plan)


def changes_against(
    patients: Iterable[tuple[str, CurrentPlacement | None]], plan: Plan
) -> PlanChanges:
    """`plan_changes` for (patient id, current place) pairs, where no `Problem` is at hand."""
    placed = {a.patient: a for a in plan.assignments}
    kept = newly_placed = still_unplaced = 0
    changes: list[Change] = []
    for patient_id, before in patients:
        after = placed.get(patient_id)
        if before is None:
            if after is None:
                still_unplaced += 1
            else:
                newly_placed += 1
        elif after is None:
            changes.append(Change(patient_id, ChangeKind.DROPPED, before, None))
        elif after.facility != before.facility:
            changes.append(Change(patient_id, ChangeKind.MOVED, before, after))
        elif after.day != before.day:
            changes.append(Change(patient_id, ChangeKind.DAY, before, after))
        else:
            kept += 1
    changes.sort(key=lambda c: (ORDER[c.kind], c.patient))
    return PlanChanges(kept, tuple(changes), newly_placed, still_unplaced)
