"""Moving many patients at once (`apply_moves`), as approving a plan does."""

from __future__ import annotations

import pytest

from medevac.domain.audit import snapshot
from medevac.domain.lifecycle import ActorRole, PatientStatus
from medevac.domain.organisations import Organisation
from medevac.domain.vocabulary import OrganisationKind
from medevac.services.patients import apply_moves
from tests.fakes import FakeDatabase
from tests.unit.domain.factories import T0, make_patient


def stored_patients(database: FakeDatabase, status: PatientStatus) -> None:
    with database.unit_of_work() as uow:
        uow.organisations.add(
            Organisation("ORG-A", "Ministry", OrganisationKind.MINISTRY_OF_HEALTH, "UA")
        )
        uow.patients.add_many([make_patient(status, f"P-{k}") for k in range(3)])
        uow.commit()


def test_many_moves_are_written_with_one_audit_record_each() -> None:
    database = FakeDatabase()
    stored_patients(database, PatientStatus.SELECTED)
    with database.unit_of_work() as uow:
        patients = uow.patients.get_many(["P-0", "P-1", "P-2"])
        moves = [(patients[k], f"regulated by plan {k}") for k in ("P-0", "P-2")]
        apply_moves(
            uow, moves, PatientStatus.REFERRED, actor="cell", role=ActorRole.COORDINATOR, at=T0
        )
        uow.commit()
    with database.unit_of_work() as uow:
        stored = uow.patients.get_many(["P-0", "P-1", "P-2"])
        statuses = {p.id: p.status for p in stored.values()}
        trail = uow.audit.list(entity_type="patient")
    assert statuses == {
        "P-0": PatientStatus.REFERRED,
        "P-1": PatientStatus.SELECTED,
        "P-2": PatientStatus.REFERRED,
    }
    assert sorted((r.entity_id, r.action, r.reason) for r in trail) == [
        ("P-0", "move:selected->referred", "regulated by plan P-0"),
        ("P-2", "move:selected->referred", "regulated by plan P-2"),
    ]
    assert all(r.before and r.at == T0 and r.actor == "cell" for r in trail)
    assert all(r.after == snapshot(stored[r.entity_id]) for r in trail)
    assert all(r.before == {**r.after, "status": "selected"} for r in trail)  # type: ignore[dict-item]


def test_moves_with_side_effects_or_against_the_lifecycle_write_nothing() -> None:
    database = FakeDatabase()
    stored_patients(database, PatientStatus.SELECTED)
    for target in (PatientStatus.CANCELLED, PatientStatus.ADMITTED):
        with database.unit_of_work() as uow:
            patients = list(uow.patients.get_many(["P-0", "P-1"]).values())
            with pytest.raises(Exception, match=r"side effects|allowed moves"):
                apply_moves(
                    uow,
                    [(p, "because") for p in patients],
                    target,
                    actor="cell",
                    role=ActorRole.COORDINATOR,
                    at=T0,
                )
    with database.unit_of_work() as uow:
        assert {p.status for p in uow.patients.get_many(["P-0", "P-1"]).values()} == {
            PatientStatus.SELECTED
        }
        assert uow.audit.list(entity_type="patient") == []
