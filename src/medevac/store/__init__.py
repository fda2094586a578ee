"""Storage adapter: SQLAlchemy 2 Core tables, repositories, the unit of work and migrations."""

from medevac.store.database import (
    create_engine_for,
    current_revision,
    downgrade,
    head_revision,
    is_up_to_date,
    upgrade,
)
from medevac.store.repositories import StorageConflict
from medevac.store.unit_of_work import SqlUnitOfWork

__all__ = [
    "SqlUnitOfWork",
    "StorageConflict",
    "create_engine_for",
    "current_revision",
    "downgrade",
    "head_revision",
    "is_up_to_date",
    "upgrade",
]
