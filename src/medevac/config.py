"""Settings, read from MEDEVAC_* environment variables (and a .env file when present)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as MEDEVAC_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="MEDEVAC_", env_file=".env", extra="ignore")

    #: SQLAlchemy URL; SQLite file in the working directory by default.
    database_url: str = f"sqlite:///{Path('medevac.db').resolve()}"
    #: Name recorded in the audit trail when the caller gives none.
    actor: str = "medevac-cli"
    #: Capacity reports older than this many hours are shown as stale.
    stale_after_hours: float = 24.0
    #: Show progress bars for imports with more rows than this.
    progress_threshold_rows: int = 2000


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
