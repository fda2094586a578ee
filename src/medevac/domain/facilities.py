"""Facilities, what they offer, what they cost and how many beds they report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import pycountry

from medevac.domain.errors import InvalidValue
from medevac.domain.geography import Coordinates, country_code
from medevac.domain.limits import (
    MAX_COUNT,
    MAX_TARIFF,
    TARIFF_DECIMALS,
    check_at_most,
    check_lengths,
)
from medevac.domain.vocabulary import Capability, FacilityKind, SpecialNeed, Specialty

#: A capacity report older than this is shown as stale unless the caller says otherwise.
DEFAULT_STALE_AFTER = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class CostPolicy:
    """Free of charge, or a tariff per bed-day in an ISO 4217 currency."""

    free_of_charge: bool = True
    tariff_per_bed_day: Decimal | None = None
    currency: str | None = None

    def __post_init__(self) -> None:
        if self.free_of_charge:
            if self.tariff_per_bed_day is not None or self.currency is not None:
                raise InvalidValue("cost", "free of charge cannot also carry a tariff or currency")
            return
        tariff = self.tariff_per_bed_day
        if tariff is None or not tariff.is_finite() or tariff < 0:
            raise InvalidValue("tariff_per_bed_day", "a billed policy needs a tariff of 0 or more")
        if tariff > MAX_TARIFF:
            raise InvalidValue("tariff_per_bed_day", f"{tariff} is more than {MAX_TARIFF:,}")
        if -tariff.normalize().as_tuple().exponent > TARIFF_DECIMALS:  # type: ignore[operator]
            # PostgreSQL's column keeps four places and rounded the rest away; SQLite kept them.
            # Trailing zeros are no places: 650.00000 is 650 (it had been refused in a CSV
            # cell and taken as a JSON number)
            raise InvalidValue(
                "tariff_per_bed_day", f"{tariff} has more than {TARIFF_DECIMALS} decimal places"
            )
        if self.currency is None or pycountry.currencies.get(alpha_3=self.currency) is None:
            raise InvalidValue("currency", f"{self.currency!r} is not an ISO 4217 currency code")

    @classmethod
    def free(cls) -> CostPolicy:
        return cls(free_of_charge=True)

    @classmethod
    def tariff(cls, per_bed_day: Decimal | str | float, currency: str) -> CostPolicy:
        return cls(False, Decimal(str(per_bed_day)), currency.upper())

    def cost_of(self, bed_days: int) -> Decimal:
        """What a stay of so many bed-days costs under this policy."""
        if bed_days < 0:
            raise InvalidValue("bed_days", "cannot be negative")
        if self.free_of_charge or self.tariff_per_bed_day is None:
            return Decimal(0)
        return self.tariff_per_bed_day * bed_days

    def describe(self) -> str:
        if self.free_of_charge:
            return "free of charge"
        return f"{self.tariff_per_bed_day} {self.currency} per bed-day"


@dataclass(frozen=True, slots=True)
class CapacityReport:
    """Beds of one specialty at one facility as reported at a moment (EDXL-HAVE style).

    Staleness is derived from `reported_at` and the time of asking; it is never stored.
    """

    facility_id: str
    specialty: Specialty
    available: int
    baseline: int
    plus_24h: int = 0
    plus_72h: int = 0
    reported_at: datetime = field(default_factory=lambda: datetime.now().astimezone())

    def __post_init__(self) -> None:
        object.__setattr__(self, "specialty", Specialty(self.specialty))
        for name in ("available", "baseline", "plus_24h", "plus_72h"):
            if getattr(self, name) < 0:
                raise InvalidValue(name, f"{getattr(self, name)} beds is negative")
            check_at_most(name, getattr(self, name), MAX_COUNT, "beds")
        if self.available > self.baseline + self.plus_72h:
            raise InvalidValue(
                "available",
                f"{self.available} beds available exceeds baseline {self.baseline}"
                f" plus surge {self.plus_72h}",
            )
        if self.reported_at.tzinfo is None:
            raise InvalidValue("reported_at", "needs a time zone (for example 2026-11-20T08:00Z)")

    def age(self, now: datetime) -> timedelta:
        """How long ago the report was made."""
        return now - self.reported_at

    def is_stale(self, now: datetime, stale_after: timedelta = DEFAULT_STALE_AFTER) -> bool:
        """True when the report is older than `stale_after` at `now`."""
        return self.age(now) > stale_after

    def expected_available(self, hours_ahead: int) -> int:
        """Beds expected free in so many hours: now, +24 h or +72 h surge figures."""
        if hours_ahead >= 72:
            return self.available + self.plus_72h
        if hours_ahead >= 24:
            return self.available + self.plus_24h
        return self.available


@dataclass(slots=True)
class Facility:
    """A place that treats, holds or rehabilitates patients."""

    id: str
    name: str
    kind: FacilityKind
    operator_id: str
    country: str
    location: Coordinates
    specialties: frozenset[Specialty] = frozenset()
    capabilities: frozenset[Capability] = frozenset()
    total_beds: int | None = None
    daily_admission_limit: int | None = None
    daily_outpatient_throughput: int | None = None
    cost_policy: CostPolicy = field(default_factory=CostPolicy.free)
    city: str = ""
    version: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise InvalidValue("id", "is empty")
        if not self.name.strip():
            raise InvalidValue("name", "is empty")
        check_lengths(self, ids=("id", "operator_id"), texts=("name", "city"))
        self.kind = FacilityKind(self.kind)
        self.country = country_code(self.country)
        self.specialties = frozenset(Specialty(s) for s in self.specialties)
        self.capabilities = frozenset(Capability(c) for c in self.capabilities)
        for name in ("total_beds", "daily_admission_limit", "daily_outpatient_throughput"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InvalidValue(name, f"{value} is negative")
            check_at_most(name, value, MAX_COUNT, "a day" if name.startswith("daily") else "beds")
        if self.daily_outpatient_throughput is not None and not self.kind.is_field_hospital:
            raise InvalidValue(
                "daily_outpatient_throughput",
                f"only field hospitals report outpatient throughput, not a {self.kind.value}",
            )

    def offers(self, specialty: Specialty) -> bool:
        return specialty in self.specialties

    def meets(self, needs: frozenset[SpecialNeed]) -> bool:
        """True when every need is met by one of the facility's capabilities."""
        return all(need.capability in self.capabilities for need in needs)

    def unmet_needs(self, needs: frozenset[SpecialNeed]) -> list[SpecialNeed]:
        return sorted(n for n in needs if n.capability not in self.capabilities)
