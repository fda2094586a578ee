"""Settings, read from MEDEVAC_* environment variables (and a .env file when present)."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: the longest `stale_after_hours` taken: a century (a larger one overflowed a timedelta)
MAX_STALE_AFTER_HOURS = 876_600


class SettingsError(ValueError):
    """A MEDEVAC_* setting that cannot be used; the message names the variable and why."""


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
    #: How long a command waits for another's write (a plan approval, say) before it gives up,
    #: nothing written (seconds).
    lock_wait_seconds: float = 60.0
    #: The coordination cell's time zone (an IANA name such as Europe/Kyiv): on which day a
    #: moment falls (a plan's day 0, agreements in force, quotas). Empty: the machine's own.
    time_zone: str = ""

    @field_validator("stale_after_hours")
    @classmethod
    def _positive_hours(cls, value: float) -> float:
        # at most a century: 1e11 hours had overflowed a timedelta with a traceback
        if not math.isfinite(value) or not 0 < value <= MAX_STALE_AFTER_HOURS:
            raise ValueError(
                f"must be a number of hours above 0 and at most {MAX_STALE_AFTER_HOURS:,} "
                "(a century)"
            )
        return value

    @field_validator("lock_wait_seconds")
    @classmethod
    def _positive_seconds(cls, value: float) -> float:
        if not (0 < value <= 86_400):  # NaN too; a day at most (`MAX_LOCK_WAIT_SECONDS`)
            raise ValueError("must be a number of seconds above 0 and at most 86400 (a day)")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        name = value.strip()
        if name:
            try:
                ZoneInfo(name)
                # not the names of files beside the zones: "localtime" follows the machine,
                # "Factory" is no place, posix/ and right/ are copies or leap-second variants
                known = name in available_timezones() and name not in ("localtime", "Factory")
            except (ValueError, OSError, ZoneInfoNotFoundError):  # a bad name, a folder, unknown
                known = False
            if not known:
                raise ValueError(
                    "is not a known time zone: give an IANA name such as Europe/Kyiv or UTC, "
                    "or leave it empty for this machine's own"
                ) from None
        return name

    @field_validator("progress_threshold_rows")
    @classmethod
    def _rows(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must be 0 or more")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings; SettingsError naming each variable that cannot be read (the value as
    given, and why), rather than pydantic's report."""
    try:
        return Settings()
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            name = "MEDEVAC_" + "_".join(str(part) for part in problem["loc"]).upper()
            reason = str(problem["msg"]).removeprefix("Value error, ")
            lines.append(f"{name}={problem.get('input')!r}: {reason}")
        raise SettingsError("; ".join(lines)) from None
