"""Approved regulating plans: which patient goes to which facility on which day."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from medevac.domain.errors import InvalidValue
from medevac.domain.limits import check_lengths


class PlanStatus(StrEnum):
    """An approved plan is live until a newer approval supersedes it."""

    LIVE = "live"
    SUPERSEDED = "superseded"


@dataclass(slots=True)
class PlannedAdmission:
    """One patient's destination and admission date; withdrawn when the patient leaves the plan."""

    patient_id: str
    facility_id: str
    admission_date: date
    withdrawn_reason: str = ""

    @property
    def is_open(self) -> bool:
        return not self.withdrawn_reason

    @property
    def place(self) -> str:
        """Where and when, as messages name it: "FACILITY on DATE"."""
        return f"{self.facility_id} on {self.admission_date}"


def withdrawal_reason(reason: str) -> str:
    """The reason to record for taking a patient out of a plan; a blank one is refused."""
    if not reason.strip():
        raise InvalidValue("reason", "withdrawing a patient from a plan needs a reason")
    return reason.strip()


@dataclass(frozen=True, slots=True)
class PlanWithdrawal:
    """A patient's admission withdrawn from one live plan: the plan, its version once changed,
    and the admission as it now stands (`withdrawn_reason` set)."""

    plan_id: str
    plan_version: int
    admission: PlannedAdmission

    @property
    def admission_before(self) -> PlannedAdmission:
        """The admission as it stood before, open."""
        return replace(self.admission, withdrawn_reason="")


@dataclass(slots=True)
class ApprovedPlan:
    """A regulating plan approved by a person, with the figures the engine reported."""

    id: str
    approved_at: datetime
    approved_by: str
    built_at: datetime
    objective: float
    solver: str
    solver_status: str
    admissions: list[PlannedAdmission] = field(default_factory=list)
    status: PlanStatus = PlanStatus.LIVE
    version: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        self.status = PlanStatus(self.status)
        check_lengths(self, ids=("id",), texts=("approved_by", "solver"))
        seen: set[str] = set()
        for admission in self.admissions:
            if admission.patient_id in seen:
                raise InvalidValue(
                    "admissions", f"patient {admission.patient_id!r} is planned twice"
                )
            seen.add(admission.patient_id)

    @property
    def is_live(self) -> bool:
        return self.status is PlanStatus.LIVE

    def admission_of(self, patient_id: str) -> PlannedAdmission | None:
        for admission in self.admissions:
            if admission.patient_id == patient_id:
                return admission
        return None

    def open_patient_ids(self) -> list[str]:
        if not self.is_live:
            return []
        return [a.patient_id for a in self.admissions if a.is_open]

    def withdraw_patient(self, patient_id: str, reason: str) -> bool:
        """Take a patient out of the plan; False when they were not (or no longer) in it."""
        why = withdrawal_reason(reason)
        admission = self.admission_of(patient_id)
        if admission is None or not admission.is_open:
            return False
        admission.withdrawn_reason = why
        return True

    def supersede(self) -> None:
        self.status = PlanStatus.SUPERSEDED
