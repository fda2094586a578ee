"""Organisations: ministries, defence medical services, humanitarian operations and others."""

from __future__ import annotations

from dataclasses import dataclass, field

from medevac.domain.errors import InvalidValue
from medevac.domain.geography import country_code
from medevac.domain.limits import check_lengths
from medevac.domain.vocabulary import OrganisationKind


@dataclass(slots=True)
class Organisation:
    """A body that sends, receives or coordinates patients; `id` is its stable external id."""

    id: str
    name: str
    kind: OrganisationKind
    country: str
    contact: str = ""
    version: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise InvalidValue("id", "is empty")
        if not self.name.strip():
            raise InvalidValue("name", "is empty")
        check_lengths(self, ids=("id",), texts=("name",))
        self.kind = OrganisationKind(self.kind)
        self.country = country_code(self.country)
