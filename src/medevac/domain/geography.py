"""Countries (ISO 3166 via pycountry) and coordinates."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pycountry

from medevac.domain.errors import InvalidValue

EARTH_RADIUS_KM = 6371.0088


def country_code(value: str, field: str = "country") -> str:
    """Return the ISO 3166-1 alpha-2 code for a code (alpha-2 or alpha-3) or an official name."""
    text = value.strip()
    if not text:
        raise InvalidValue(field, "is empty; give an ISO 3166 country code such as 'UA'")
    found = None
    if len(text) == 2:
        found = pycountry.countries.get(alpha_2=text.upper())
    elif len(text) == 3:
        found = pycountry.countries.get(alpha_3=text.upper())
    if found is None:
        try:
            found = pycountry.countries.lookup(text)
        except LookupError:
            found = None
    if found is None:
        raise InvalidValue(field, f"{value!r} is not an ISO 3166 country code or name")
    return str(found.alpha_2)


@dataclass(frozen=True, slots=True)
class Coordinates:
    """A point in WGS 84 degrees."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat <= 90.0:
            raise InvalidValue("lat", f"{self.lat} is outside -90..90")
        if not -180.0 <= self.lon <= 180.0:
            raise InvalidValue("lon", f"{self.lon} is outside -180..180")

    def distance_km(self, other: Coordinates) -> float:
        """Great-circle (haversine) distance on a sphere of radius 6371.0088 km."""
        return haversine_km(self.lat, self.lon, other.lat, other.lon)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
