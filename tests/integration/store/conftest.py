"""Reference data most storage tests build on."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from medevac.domain.vocabulary import FacilityKind, OrganisationKind
from medevac.store.unit_of_work import SqlUnitOfWork
from tests.integration.store.builders import make_facility, make_organisation

UowFactory = Callable[[], SqlUnitOfWork]


@pytest.fixture
def registry(uow_factory: UowFactory) -> UowFactory:
    """Organisations ORG-UA (sending) and ORG-DE (receiving), facilities FAC-1 and FAC-2."""
    with uow_factory() as uow:
        receiving = make_organisation("ORG-DE", "DE")
        receiving.kind = OrganisationKind.HOSPITAL_OPERATOR
        uow.organisations.add_many([make_organisation("ORG-UA", "UA"), receiving])
        uow.facilities.add(make_facility("FAC-1"))
        uow.facilities.add(
            make_facility("FAC-2", kind=FacilityKind.REHABILITATION_CENTRE, billed=False)
        )
        uow.commit()
    return uow_factory
