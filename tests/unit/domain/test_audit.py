"""Audit snapshots: JSON-ready copies of domain objects."""

from __future__ import annotations

import json
from datetime import date

from medevac.domain.audit import snapshot
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.patients import Condition, Identity
from medevac.domain.vocabulary import BodyRegion, InjuryMechanism, Sex, SpecialNeed
from tests.unit.domain.factories import T0, make_patient


def test_a_snapshot_holds_plain_values_and_leaves_out_version_and_history() -> None:
    patient = make_patient(PatientStatus.SCREENING)
    patient.identity = Identity(name="A. B.", birth_date=date(1990, 5, 1), sex=Sex.FEMALE)
    patient.conditions = (Condition(BodyRegion.HEAD, "concussion", InjuryMechanism.BLAST),)
    patient.special_needs = frozenset({SpecialNeed.OXYGEN, SpecialNeed.ISOLATION})
    patient.companions = 2
    patient.fit_to_transport = True
    patient.history = []
    patient.version = 7
    taken = snapshot(patient)
    assert "version" not in taken
    assert "history" not in taken
    # enums (string enums included) by value, dates as ISO text, sets sorted, nested objects
    # as dicts, numbers and booleans as they are
    assert taken["status"] == "screening"
    assert type(taken["status"]) is str
    assert taken["precedence"] == "priority"
    assert type(taken["precedence"]) is str
    assert taken["required_specialties"] == ["orthopaedics", "rehabilitation"]
    assert taken["identity"]["birth_date"] == "1990-05-01"
    assert taken["identity"]["sex"] == "female"
    assert taken["conditions"] == [
        {"body_region": "head", "description": "concussion", "mechanism": "blast"}
    ]
    assert taken["special_needs"] == ["isolation", "oxygen"]
    assert taken["companions"] == 2
    assert taken["fit_to_transport"] is True
    assert taken["expected_length_of_stay_days"] is None
    assert json.loads(json.dumps(taken)) == taken


def test_a_snapshot_of_a_moved_patient_shows_the_new_status() -> None:
    patient = make_patient(PatientStatus.SCREENING)
    before = snapshot(patient)
    patient.transition_to(PatientStatus.SELECTED, actor="team", at=T0)
    after = snapshot(patient)
    assert (before["status"], after["status"]) == ("screening", "selected")
    assert {k for k in before if before[k] != after[k]} == {"status"}
