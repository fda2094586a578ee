"""When a request's line last named the facility of its patient's admission (`named_at`)."""

from __future__ import annotations

from datetime import timedelta

from medevac.domain.requests import TreatmentRequest
from tests.unit.domain.factories import T0


def answered(at_facility: dict[str, str]) -> TreatmentRequest:
    """A request for P1 and P2, both accepted at T0, ``at_facility`` naming their facilities."""
    request = TreatmentRequest("REQ-1", "ORG-A", "ORG-B", T0)
    for patient_id in ("P1", "P2"):
        request.add_patient(patient_id)
    request.submit()
    request.respond(
        {"P1": (True, ""), "P2": (True, "")},
        destinations={p: (f, T0.date()) for p, f in at_facility.items()},
        at=T0,
    )
    return request


def test_an_answer_naming_a_facility_names_it_at_the_answer_s_time() -> None:
    request = answered({"P1": "FAC-B"})
    assert request.line("P1").named_at == T0
    assert request.line("P2").named_at is None  # accepted with no facility named


def test_naming_another_facility_later_records_when_and_keeps_the_answer_s_time() -> None:
    request = answered({"P1": "FAC-B"})
    later, latest = T0 + timedelta(hours=2), T0 + timedelta(hours=5)
    request.name_admission("P2", "FAC-B", T0.date(), at=later)
    request.name_admission("P1", "FAC-C", T0.date(), at=later)
    assert [(line.decided_at, line.named_at) for line in request.patients] == [
        (T0, later),
        (T0, later),
    ]
    # another day at the same facility: that facility knew of the patient since
    request.name_admission("P1", "FAC-C", T0.date() + timedelta(days=2), at=latest)
    assert request.line("P1").named_at == later
    # back to the first facility: named there anew
    request.name_admission("P1", "FAC-B", T0.date(), at=latest)
    assert request.line("P1").named_at == latest


def test_a_facility_named_without_a_time_has_no_known_naming_time() -> None:
    request = answered({"P1": "FAC-B"})
    request.name_admission("P1", "FAC-C", T0.date())
    assert request.line("P1").named_at is None
