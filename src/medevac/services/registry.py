"""Registering organisations, facilities, agreements and capacity reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from medevac.domain.agreements import Agreement
from medevac.domain.errors import InvalidValue, NotFound
from medevac.domain.facilities import CapacityReport, Facility
from medevac.domain.limits import CLOCK_SKEW, MAX_ID_LENGTH, check_new_id, time_fault
from medevac.domain.organisations import Organisation
from medevac.domain.repositories import UnitOfWork
from medevac.services.auditing import audit, utc_now
from medevac.services.clock import shown


def register_organisation(uow: UnitOfWork, organisation: Organisation, *, actor: str) -> None:
    """Add an organisation; its id must be new."""
    check_new_id(organisation.id)
    with uow:
        if uow.organisations.find(organisation.id) is not None:
            raise InvalidValue("id", f"organisation {organisation.id!r} already exists")
        uow.organisations.add(organisation)
        audit(uow, "organisation", organisation, "create", actor=actor)
        uow.commit()


def register_facility(uow: UnitOfWork, facility: Facility, *, actor: str) -> None:
    """Add a facility run by a known organisation; its id must be new."""
    check_new_id(facility.id)
    with uow:
        if uow.facilities.find(facility.id) is not None:
            raise InvalidValue("id", f"facility {facility.id!r} already exists")
        if uow.organisations.find(facility.operator_id) is None:
            raise NotFound("organisation", facility.operator_id)
        uow.facilities.add(facility)
        audit(uow, "facility", facility, "create", actor=actor)
        uow.commit()


def register_agreement(uow: UnitOfWork, agreement: Agreement, *, actor: str) -> None:
    """Add an agreement between two known organisations."""
    check_new_id(agreement.id)
    with uow:
        if uow.agreements.find(agreement.id) is not None:
            raise InvalidValue("id", f"agreement {agreement.id!r} already exists")
        for org in (agreement.sending_organisation_id, agreement.receiving_organisation_id):
            if uow.organisations.find(org) is None:
                raise NotFound("organisation", org)
        uow.agreements.add(agreement)
        audit(uow, "agreement", agreement, "create", actor=actor)
        uow.commit()


def report_capacity(
    uow: UnitOfWork, report: CapacityReport, *, actor: str
) -> CapacityReport | None:
    """Record a capacity report for a specialty the facility offers, at a plausible time
    (`time_fault`: 0001-01-01T00:00+23:59, before year 1 in UTC, had failed at the database
    write naming neither field nor record). Returns the facility's later report of the
    specialty, where there is one: that one stays in force (`latest`), and the command says
    so (an older report entered late had been "recorded" with no word that plans ignore it)."""
    fault = time_fault(report.reported_at)
    if fault is not None:
        raise InvalidValue("reported_at", f"{report.reported_at.isoformat()} {fault}")
    with uow:
        facility = uow.facilities.get(report.facility_id)
        if not facility.offers(report.specialty):
            offered = ", ".join(sorted(facility.specialties)) or "none"
            raise InvalidValue(
                "specialty",
                f"{facility.id} does not offer {report.specialty} (it offers: {offered})",
            )
        if report.reported_at > utc_now() + CLOCK_SKEW:
            raise InvalidValue("reported_at", f"{shown(report.reported_at)} is in the future")
        if uow.capacity.exists(report.facility_id, report.specialty, report.reported_at):
            # the database's unique key had refused it, in words that differ by backend
            raise InvalidValue(
                "reported_at",
                f"a report of {facility.id} {report.specialty} at {shown(report.reported_at)} is "
                "already recorded; reports are never changed: send a new one with a later time",
            )
        later = next(
            (
                r
                for r in uow.capacity.latest(report.facility_id)
                if r.specialty == report.specialty and r.reported_at > report.reported_at
            ),
            None,
        )
        uow.capacity.add(report)
        audit(  # when it was entered, as an import records it: the report keeps its own time
            uow,
            "capacity_report",
            report,
            "report",
            actor=actor,
            entity_id=capacity_audit_id(report),
        )
        uow.commit()
    return later


def capacity_audit_id(report: CapacityReport) -> str:
    """The id a capacity report's audit record names: "FACILITY/specialty", as imports write
    it, where that fits an id (`MAX_ID_LENGTH`); else the facility's id alone, which always
    does (the record's after-image names the specialty). A facility id may take all of an id's
    100 characters, and "FACILITY/specialty" had then been refused as an audit entity id the
    user never typed, so that the facility could report no beds."""
    qualified = f"{report.facility_id}/{report.specialty}"
    return qualified if len(qualified) <= MAX_ID_LENGTH else report.facility_id


@dataclass(frozen=True, slots=True)
class CapacityLine:
    """The latest report of one specialty at one facility, with its age at the time of asking."""

    facility: Facility
    report: CapacityReport
    age: timedelta
    stale: bool


def current_capacity(
    uow: UnitOfWork,
    *,
    now: datetime,
    stale_after: timedelta,
    facility_id: str | None = None,
) -> list[CapacityLine]:
    """Latest capacity per facility and specialty it offers (as plans take them: the report
    of a specialty it dropped had been listed as current beds, which nobody could update);
    staleness is derived from `now`. Sorted by facility name, then id, then specialty."""
    with uow:
        if facility_id is not None:
            uow.facilities.get(facility_id)
        reports = uow.capacity.latest(facility_id)
        facilities = uow.facilities.get_many({r.facility_id for r in reports})
    return sorted(
        (
            CapacityLine(
                facility=facilities[r.facility_id],
                report=r,
                age=r.age(now),
                stale=r.is_stale(now, stale_after),
            )
            for r in reports
            if facilities[r.facility_id].offers(r.specialty)
        ),
        key=lambda line: (line.facility.name, line.facility.id, line.report.specialty),
    )
