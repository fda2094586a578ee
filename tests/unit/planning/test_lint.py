"""Warnings on valid problems (`medevac.planning.lint`): likely slips the format allows."""

from __future__ import annotations

from typing import Any

from medevac.planning import parse_problem
from medevac.planning.lint import problem_warnings
from tests.unit.planning.builders import facility, patient, problem_dict


def warnings_of(facilities: list[dict[str, Any]], patients: list[dict[str, Any]]) -> list[str]:
    return problem_warnings(parse_problem(problem_dict(facilities, patients)))


def test_a_clean_problem_has_no_warnings() -> None:
    assert warnings_of([facility("F1", 50.0, 30.0)], [patient("P1"), patient("P2")]) == []


def test_a_misspelt_specialty_on_a_facility_is_named_with_the_one_meant() -> None:
    beds = {"orthopedics": 4, "neurology": 1}
    [line] = warnings_of([facility("F1", 50.0, 30.0, beds=beds)], [patient("P1")])
    assert line.startswith(
        'facilities[0].beds: "orthopedics" is not a known specialty and no patient needs it; '
        'did you mean "orthopaedics"?'
    )


def test_a_specialty_of_the_partners_own_is_no_slip() -> None:
    # not known, but needed by a patient, or like no known one: the format allows it
    beds = {"hyperbaric_medicine": 2, "orthopaedics": 1}
    patients = [patient("P1"), patient("P2", specialty="hyperbaric_medicine")]
    assert warnings_of([facility("F1", 50.0, 30.0, beds=beds)], patients) == []
    assert warnings_of([facility("F1", 50.0, 30.0, beds={"dialysis": 1})], [patient("P1")]) == []
    # like a known specialty that no facility offers: nothing these patients miss
    beds = {"rehabilitation_neuro": 3, "orthopaedics": 1}
    patients = [patient("P1"), patient("P2", specialty="rehabilitation_neuro")]
    assert warnings_of([facility("F1", 50.0, 30.0, beds=beds)], patients) == []


def test_a_misspelt_specialty_of_patients_is_said_once_with_their_count() -> None:
    beds = {"orthopaedics": 1, "neurosurgery": 1, "neurosurgey": 1}
    patients = [patient(f"P{k}", specialty="neurosurgey") for k in range(3)]
    [line] = warnings_of([facility("F1", 50.0, 30.0, beds=beds)], patients)
    assert line.startswith(
        'patients[0].specialty (and 2 more patients): "neurosurgey" is not a known specialty; '
        'did you mean "neurosurgery"?'
    )


def test_a_need_no_facility_meets_but_like_a_capability_is_named() -> None:
    facilities = [facility("F1", 50.0, 30.0, capabilities=["paediatric"])]
    patients = [
        patient("P1"),
        patient("P2", needs=["pediatric"]),
        patient("P3", needs=["pediatric"]),
    ]
    assert warnings_of(facilities, patients) == [
        'patients[1].needs: "pediatric" is a capability of no facility; did you mean '
        '"paediatric"? No facility can take a patient with this need'
    ]


def test_an_accepted_organisation_written_as_a_sender_but_for_punctuation_is_named() -> None:
    # ORG-C sends nobody here but is another partner, a letter apart: no slip
    facilities = [facility("F1", 50.0, 30.0, accepts_from=["ORG_A", "ORG-C", "org-b"])]
    patients = [patient("P1", organisation="ORG-A"), patient("P2", organisation="ORG-B")]
    assert warnings_of(facilities, patients) == [
        'facilities[0].accepts_from: "ORG_A" sends no patient; did you mean "ORG-A"? Its '
        "patients are not accepted here",
        'facilities[0].accepts_from: "org-b" sends no patient; did you mean "ORG-B"? Its '
        "patients are not accepted here",
    ]


def test_look_alike_ids_are_named_with_the_invisible_character_shown() -> None:
    patients = [patient("P1"), patient("P2"), patient("P1\u200b"), patient("ｐ２")]
    lines = warnings_of([facility("F1", 50.0, 30.0), facility("f1", 50.0, 30.0)], patients)
    assert lines == [
        'patients[2].id "P1\\u200b" looks like patients[0].id "P1": they differ only in '
        "invisible characters, letter case or the form of a character, and are taken as "
        "different",
        'patients[3].id "\\uff50\\uff12" looks like patients[1].id "P2": they differ only in '
        "invisible characters, letter case or the form of a character, and are taken as "
        "different",
        'facilities[1].id "f1" looks like facilities[0].id "F1": they differ only in '
        "invisible characters, letter case or the form of a character, and are taken as "
        "different",
    ]


def test_look_alike_groups_and_organisations_are_named() -> None:
    patients = [
        patient("P1", group="G-7", organisation="ORG-A"),
        patient("P2", group="G-7 ", organisation="ORG-A\u2060"),
    ]
    lines = warnings_of([facility("F1", 50.0, 30.0)], patients)
    assert [line.split(" looks like ")[0] for line in lines] == [
        'patients[1].group "G-7 "',
        'patients[1].organisation "ORG-A\\u2060"',
    ]
