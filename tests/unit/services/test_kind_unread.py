"""Which facilities' kind a problem does not read, as approval tells them from the manifest."""

from __future__ import annotations

from medevac.services.regulating import _kind_unread


def test_a_facility_whose_id_holds_a_slash_is_known_by_its_capacity_report() -> None:
    # "PL/H-B/orthopaedics" had been read as facility "PL": PL/H-B looked like an origin
    # without reports, its change to a field hospital was only noted and its plan approved
    manifest = {
        "facilities": {"PL/H-B": 1, "H-A": 1, "ORIGIN": 1},
        "capacity": {"PL/H-B/orthopaedics": "2026-12-07T10:00:00+00:00"},
        "excluded": {},
    }
    assert _kind_unread(manifest) == {"H-A", "ORIGIN"}


def test_every_kind_is_unread_where_the_build_took_field_hospitals_in() -> None:
    manifest = {
        "facilities": {"PL/H-B": 1, "H-A": 1},
        "capacity": {"PL/H-B/orthopaedics": "2026-12-07T10:00:00+00:00"},
        "field_hospitals": True,
    }
    assert _kind_unread(manifest) == {"PL/H-B", "H-A"}
