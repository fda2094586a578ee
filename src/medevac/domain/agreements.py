"""Agreements: who treats whose patients, in which specialties, how many and at what cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from medevac.domain.errors import InvalidValue
from medevac.domain.facilities import CostPolicy
from medevac.domain.limits import MAX_COUNT, check_at_most, check_lengths
from medevac.domain.vocabulary import Specialty


@dataclass(slots=True)
class Agreement:
    """The receiving organisation treats patients of the sending one under these terms."""

    id: str
    sending_organisation_id: str
    receiving_organisation_id: str
    specialties: frozenset[Specialty]
    quota: int | None
    cost_policy: CostPolicy
    valid_from: date
    valid_to: date | None = None
    version: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        self.specialties = frozenset(Specialty(s) for s in self.specialties)
        check_lengths(self, ids=("id", "sending_organisation_id", "receiving_organisation_id"))
        if self.sending_organisation_id == self.receiving_organisation_id:
            raise InvalidValue("receiving_organisation", "an agreement binds two organisations")
        if not self.specialties:
            raise InvalidValue("specialties", "an agreement covers at least one specialty")
        if self.quota is not None and self.quota < 0:
            raise InvalidValue("quota", f"{self.quota} is negative")
        check_at_most("quota", self.quota, MAX_COUNT, "patients")
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise InvalidValue("valid_to", f"{self.valid_to} is before {self.valid_from}")

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)

    def covers(self, specialty: Specialty, on: date) -> bool:
        return self.in_force(on) and specialty in self.specialties

    def remaining_quota(self, patients_already_sent: int) -> int | None:
        """Places left under the quota (None: no quota)."""
        if self.quota is None:
            return None
        return max(0, self.quota - patients_already_sent)
