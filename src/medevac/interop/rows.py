"""The columns of each record kind and their conversion to and from domain objects.

Each kind has a pydantic row model (the single description of its columns: names, types,
allowed values, whether required), a function giving an entity's column values and a function
building an entity from column values. CSV and JSON share the models: CSV cells are first
decoded into the JSON shapes (lists, condition objects) by `decode_csv_row`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

from medevac.domain.errors import InvalidValue
from medevac.domain.facilities import CapacityReport, CostPolicy, Facility
from medevac.domain.geography import Coordinates
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.limits import (
    MAX_COUNT,
    MAX_DAYS,
    MAX_ID_LENGTH,
    MAX_TARIFF,
    TARIFF_DECIMALS,
    fraction_fault,
    text_fault,
    time_fault,
)
from medevac.domain.organisations import Organisation
from medevac.domain.patients import Condition, Identity, Patient
from medevac.domain.vocabulary import (
    BodyRegion,
    Capability,
    FacilityKind,
    InjuryMechanism,
    Mobility,
    OrganisationKind,
    Precedence,
    ServiceStatus,
    Sex,
    SpecialNeed,
    Specialty,
    TriageCategory,
)
from medevac.interop.records import RecordKind
from medevac.planning import json_text

#: Separates the codes of a multi-valued CSV cell (specialties, capabilities, special needs).
CODE_SEPARATOR = ";"
#: Separates the conditions of a patient in a CSV cell.
CONDITION_SEPARATOR = "|"
#: Separates body region, mechanism and description inside one CSV condition.
CONDITION_PART_SEPARATOR = ":"
#: First characters that make a spreadsheet read a cell as a formula (=, +, - and @, and tab
#: and carriage return, which some spreadsheets skip before looking).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Put before such a text on export, so that spreadsheets show it as text.
TEXT_MARK = "'"


def _needs_mark(text: str) -> bool:
    """Whether a text reads as a formula after any apostrophes, or is apostrophes before
    nothing but blanks (which a spreadsheet shows as an empty cell)."""
    rest = text.lstrip(TEXT_MARK)
    return rest.startswith(FORMULA_STARTS) or (rest != text and not rest.strip())


def mark_text(text: str) -> str:
    """A CSV cell's text with one apostrophe before it where a spreadsheet would take it for a
    formula (`=HYPERLINK(...)` is written `'=HYPERLINK(...)`).

    Texts that already begin with apostrophes before such a character, or before nothing but
    blanks, get one more (`'` is written `''`), so that `unmark_text` gives back every text
    exactly; other texts (`'s-Hertogenbosch`) are left as they are.
    """
    return TEXT_MARK + text if _needs_mark(text) else text


def unmark_text(text: str) -> str:
    """Inverse of `mark_text`: one apostrophe taken from a text that `mark_text` marks. A cell
    of the mark and blanks (`'`, `'  `) is blank, as a spreadsheet shows it."""
    return text[1:] if text.startswith(TEXT_MARK) and _needs_mark(text) else text


ROW_CONFIG = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


#: The validation context under which CSV rows are checked (`parse_table`): their numbers
#: come as text, while a JSON file writes a whole number as a number.
CSV_CONTEXT = {"csv": True}

#: A whole number as CSV writes it: decimal digits (ASCII), a minus before them at most. No
#: underscores ("1_0" had been read as 10), no "+", no point, no exponent.
_WHOLE_NUMBER_TEXT = re.compile(r"-?[0-9]+")
#: A number written as text (a CSV cell, a tariff in JSON): decimal digits with a point and an
#: exponent at most; no underscores, "inf", "nan" or hexadecimal.
_NUMBER_TEXT = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
#: ISO 8601 as the formats take it: a calendar date, and a date and time of day (with a zone
#: after it, which the model then asks for by name where it is missing).
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME_TEXT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?"
    r"(?:[Zz]|[-+][0-9]{2}(?::?[0-9]{2})?)?"
)


def _fail(kind: str, what: str) -> PydanticCustomError:
    return PydanticCustomError(kind, what)


def _whole_number(value: Any, info: ValidationInfo) -> Any:
    """Refuse what pydantic's lax mode would take for a whole number: `true` (1 bed), a text
    with underscores or signs (`1_0` as 10), in a JSON file any text (its schema says
    integer: a count is a JSON number), and a JSON number with a fraction that a float rounds
    to a whole one (`2.0000000000000000001` had been stored as 2 beds, `1e-400` as 0)."""
    if isinstance(value, bool):
        raise _fail("wrong_json_type", "must be a whole number")
    _json_number(value)
    if isinstance(value, json_text.Rounded):
        raise _fail("rounded_number", f"must be a whole number; {_rounded_to(value)}")
    if isinstance(value, str):
        if not (info.context or {}).get("csv"):
            raise _fail("wrong_json_type", "must be a whole number, a JSON number not a string")
        if not _WHOLE_NUMBER_TEXT.fullmatch(value.strip()):
            raise _fail("int_text", "must be a whole number written in decimal digits")
    return value


def _number(value: Any) -> Any:
    """Refuse `true` (latitude 1.0), texts that are no decimal numbers (`1_0.5`, `nan`) and a
    JSON number that a float rounds to a whole one (`json_text.Rounded`)."""
    if isinstance(value, bool):
        raise _fail("wrong_json_type", "must be a number")
    if isinstance(value, str) and not _NUMBER_TEXT.fullmatch(value.strip()):
        raise _fail("number_text", "must be a number written in decimal digits")
    _held_as_written(value)
    return value


def _float_number(value: Any, info: ValidationInfo) -> Any:
    """`_number`, in a JSON file no text (its schema says number: a latitude `"52.52"` had
    been taken), and a text (a CSV cell) refused where a float rounds it to a whole number it
    is not, as a JSON number is: a latitude `1e-400` had been stored as 0.0, and
    `90.000000000000001` as 90.0, within the limit it is beyond as written."""
    value = _number(value)
    if isinstance(value, str) and not (info.context or {}).get("csv"):
        raise _fail("wrong_json_type", "must be a number, a JSON number not a string")
    if isinstance(value, str):  # read as `json_text` reads a JSON number
        _held_as_written(json_text.read_number(value.strip()))
    return value


def _held_as_written(value: Any) -> Any:
    """Refuse a JSON number that a float rounds to a whole one (`json_text.Rounded`: `1e-400`
    is 0.0, `1.0000000000000000001` is 1.0, which a flag takes for true): what would be
    stored is not what the file wrote."""
    _json_number(value)
    if isinstance(value, json_text.Rounded):
        raise _fail("rounded_number", f"cannot be stored as written; {_rounded_to(value)}")
    return value


def _json_number(value: Any) -> None:
    """Refuse `NaN`, `Infinity` and `-Infinity` of a JSON file (`json_text.NotJson`), which
    Python's decoder takes and JSON has no such number for: a latitude `NaN` had been refused
    as above 90 and quoted `nan`."""
    if isinstance(value, json_text.NotJson):
        raise _fail("not_json_number", "must be a number; NaN and Infinity are not JSON numbers")


def _flag(value: Any, info: ValidationInfo) -> Any:
    """In a JSON file `true` or `false` only (its schema says boolean: `1`, `"yes"` and
    `1.0000000000000000001` had been taken for true); a CSV cell as the format says
    (`true`/`false`, `yes`/`no`, `1`/`0`)."""
    _held_as_written(value)
    if not isinstance(value, bool) and not (info.context or {}).get("csv"):
        raise _fail("wrong_json_type", "must be true or false")
    return value


def _rounded_to(value: float) -> str:
    return f"a float rounds it to {float(value)!r}"


def _date(value: Any) -> Any:
    """Refuse a date that is no `YYYY-MM-DD` text: a JSON number or text of digits (seconds
    since 1970: "0" had been read as 1970-01-01), a time of day after it."""
    if isinstance(value, bool | int | float) or (
        isinstance(value, str) and not _DATE_TEXT.fullmatch(value.strip())
    ):
        raise _fail("wrong_json_type", "must be a date written YYYY-MM-DD")
    return value


def _time(value: Any) -> Any:
    """Refuse a time that is no ISO 8601 text with a zone: a JSON number or text of digits
    ("1700000000" had been read as seconds since 1970), a date alone; and a fraction of a
    second beyond microseconds, which had been cut off unsaid (`08:00:00.1234567` and
    `08:00:00.1234568`, two reports, had been refused as duplicates); zeros after the sixth
    digit pass, losing nothing."""
    if isinstance(value, bool | int | float):
        raise _fail("wrong_json_type", "must be a time written in ISO 8601 with a zone")
    if isinstance(value, str):
        match = _TIME_TEXT.fullmatch(value.strip())
        if match is None:
            raise _fail("wrong_json_type", "must be a time written in ISO 8601 with a zone")
        fault = fraction_fault(value.strip())
        if fault is not None:
            raise _fail("time_precision", fault)
    return value


def _plausible_time(moment: datetime) -> datetime:
    """Refuse a time outside the registry's range (`time_fault`), which no zone can show or
    no backend store alike."""
    fault = time_fault(moment)
    if fault is not None:
        raise _fail("time_out_of_range", fault)
    return moment


def _plain_text(value: str) -> str:
    """Refuse a text holding a control character (an ESC sequence, a line break), a lone
    surrogate or a bidi override (`text_fault`, the rule of names): a condition's description
    and an organisation's contact had taken them, to reach the terminal of whoever lists them.
    Checked here, naming row and column, as well as by the domain where it can be: a contact
    is not, as organisations are read back through their constructor, and one stored before
    would no longer be read."""
    fault = text_fault(value)
    if fault is not None:
        raise _fail("text_character", fault)
    return value


_WHOLE_NUMBER = BeforeValidator(_whole_number)
_NUMBER = BeforeValidator(_number)
_FLOAT_NUMBER = BeforeValidator(_float_number)
_FLAG = BeforeValidator(_flag)
_DATE = BeforeValidator(_date)
_TIME = BeforeValidator(_time)

ExternalId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^\S+$"
    ),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
#: Texts the row model checks for control characters and bidi overrides (`_plain_text`)
PlainText = Annotated[Text, AfterValidator(_plain_text)]
PlainOptionalText = Annotated[OptionalText, AfterValidator(_plain_text)]
Country = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=80)]
BedCount = Annotated[int, Field(ge=0, le=MAX_COUNT), _WHOLE_NUMBER]
Latitude = Annotated[float, Field(ge=-90, le=90), _FLOAT_NUMBER]
Longitude = Annotated[float, Field(ge=-180, le=180), _FLOAT_NUMBER]
Tariff = Annotated[Decimal, Field(ge=0, le=MAX_TARIFF, decimal_places=TARIFF_DECIMALS), _NUMBER]
Stay = Annotated[int, Field(ge=1, le=MAX_DAYS), _WHOLE_NUMBER]
Date = Annotated[date, _DATE]
Flag = Annotated[bool, _FLAG]
ZonedTime = Annotated[AwareDatetime, _TIME, AfterValidator(_plausible_time)]


class OrganisationRow(BaseModel):
    """One organisation: ministry, defence medical service, humanitarian operation, ..."""

    model_config = ROW_CONFIG

    id: ExternalId = Field(description="Stable external id.", examples=["MOH-UA"])
    name: Text = Field(examples=["Ministry of Health of Ukraine"])
    kind: OrganisationKind = Field(examples=["ministry_of_health"])
    country: Country = Field(
        description="ISO 3166-1 alpha-2 or alpha-3 code, or the English name.", examples=["UA"]
    )
    contact: PlainOptionalText = Field("", examples=["medevac-desk@moh.example"])


class FacilityRow(BaseModel):
    """One facility: hospital, rehabilitation centre, staging hub or field hospital."""

    model_config = ROW_CONFIG

    id: ExternalId = Field(description="Stable external id.", examples=["DE-BER-CHARITE"])
    name: Text = Field(examples=["Charité Campus Mitte"])
    kind: FacilityKind = Field(examples=["hospital"])
    operator_id: ExternalId = Field(
        description="Id of the operating organisation (in the registry or imported earlier).",
        examples=["DE-BMG"],
    )
    country: Country = Field(
        description="ISO 3166-1 alpha-2 or alpha-3 code, or the English name.", examples=["DE"]
    )
    city: OptionalText = Field("", examples=["Berlin"])
    lat: Latitude = Field(description="WGS 84 latitude in degrees.", examples=[52.52])
    lon: Longitude = Field(description="WGS 84 longitude in degrees.", examples=[13.38])
    specialties: list[Specialty] = Field(
        default_factory=list, examples=[["orthopaedics", "neurosurgery"]]
    )
    capabilities: list[Capability] = Field(
        default_factory=list, examples=[["intensive_care", "isolation"]]
    )
    total_beds: BedCount | None = Field(None, examples=[120])
    daily_admission_limit: BedCount | None = Field(None, examples=[6])
    daily_outpatient_throughput: BedCount | None = Field(
        None, description="Field hospitals (emt_*) only.", examples=[420]
    )
    tariff_per_bed_day: Tariff | None = Field(
        None,
        description="Price of a bed-day; empty means free of charge.",
        examples=["650.00"],
    )
    currency: OptionalText = Field(
        "", description="ISO 4217 code; required with a tariff.", examples=["EUR"]
    )


class CapacityRow(BaseModel):
    """Beds of one specialty at one facility at a moment; appended, never changed."""

    model_config = ROW_CONFIG

    facility_id: ExternalId = Field(examples=["DE-BER-CHARITE"])
    specialty: Specialty = Field(
        description="A specialty the facility offers.", examples=["orthopaedics"]
    )
    available: BedCount = Field(description="Beds free now.", examples=[4])
    baseline: BedCount = Field(description="Beds normally staffed.", examples=[10])
    plus_24h: BedCount = Field(0, description="Extra beds expected within 24 h.", examples=[2])
    plus_72h: BedCount = Field(0, description="Extra beds expected within 72 h.", examples=[5])
    reported_at: ZonedTime = Field(
        description="ISO 8601 time with a zone; not in the future.",
        examples=["2026-11-20T08:00:00+00:00"],
    )


class ConditionRow(BaseModel):
    """An injury or illness of a patient."""

    model_config = ROW_CONFIG

    body_region: BodyRegion = Field(examples=["lower_limb"])
    mechanism: InjuryMechanism = Field(InjuryMechanism.OTHER, examples=["blast"])
    description: PlainText = Field(examples=["open tibia fracture"])


class PatientRow(BaseModel):
    """One patient, known by a pseudonymous id."""

    model_config = ROW_CONFIG

    id: ExternalId = Field(description="Pseudonymous external id.", examples=["P-000123"])
    organisation_id: ExternalId = Field(
        description="Id of the organisation responsible for the patient.", examples=["MOH-UA"]
    )
    location_id: ExternalId | None = Field(
        None, description="Id of the facility holding the patient now.", examples=["UA-LVIV-1"]
    )
    required_specialties: list[Specialty] = Field(
        min_length=1,
        description="Primary specialty first; no repeats.",
        examples=[["orthopaedics", "general_surgery"]],
    )
    precedence: Precedence = Field(examples=["priority"])
    mobility: Mobility = Field(examples=["litter"])
    triage: TriageCategory = Field(TriageCategory.T2, description="Default T2.", examples=["T2"])
    fit_to_transport: Flag = Field(
        False,
        description=(
            "Default false: a patient not fit to transport is left out of plans until it is."
        ),
        examples=[True],
    )
    expected_length_of_stay_days: Stay | None = Field(None, examples=[21])
    companions: BedCount = Field(0, description="Attendants travelling along.", examples=[1])
    special_needs: list[SpecialNeed] = Field(default_factory=list, examples=[["oxygen"]])
    conditions: list[ConditionRow] = Field(
        default_factory=list,
        examples=[[{"body_region": "lower_limb", "mechanism": "blast", "description": "fracture"}]],
    )
    name: OptionalText = Field("", examples=["Olena K."])
    birth_date: Date | None = Field(None, examples=["1991-04-12"])
    sex: Sex = Field(Sex.UNKNOWN, examples=["female"])
    nationality: OptionalText = Field(
        "", description="ISO 3166 country code or name.", examples=["UA"]
    )
    service_status: ServiceStatus = Field(ServiceStatus.UNKNOWN, examples=["civilian"])
    affiliation: OptionalText = Field("", examples=[""])
    status: PatientStatus | None = Field(
        None,
        description=(
            "Lifecycle status for a new patient (default reported). For a patient already in"
            " the registry it must be empty or equal to the current status."
        ),
        examples=["reported"],
    )


E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class RecordSpec(Generic[E]):
    """How one record kind maps between file rows and domain entities."""

    kind: RecordKind
    row_model: type[BaseModel]
    #: Entity type written in audit records.
    entity_type: str
    #: Columns holding several codes; CSV separates them with CODE_SEPARATOR.
    code_list_columns: frozenset[str]
    #: Columns holding conditions; CSV writes them as region:mechanism:description joined by '|'.
    condition_columns: frozenset[str]
    #: The entity's column values (the status of a patient excluded), in comparable form.
    values: Callable[[E], dict[str, Any]]
    #: Build an entity from column values; raises InvalidValue naming the field.
    build: Callable[[Mapping[str, Any]], E]
    #: The key that identifies a record: the external id, or (facility, specialty, time).
    key: Callable[[Mapping[str, Any]], Hashable]
    #: The columns `key` reads.
    key_columns: tuple[str, ...]
    #: Domain field names whose errors belong to another column.
    field_columns: Mapping[str, str]
    #: Columns stored as decimals (tariffs): a JSON number there is read from its text, as a
    #: CSV cell is, not from the float the JSON decoder makes of it (`read_table`).
    decimal_columns: frozenset[str] = frozenset()

    @property
    def columns(self) -> list[str]:
        return list(self.row_model.model_fields)

    @property
    def required_columns(self) -> list[str]:
        return [name for name, f in self.row_model.model_fields.items() if f.is_required()]

    def column_of(self, field: str) -> str:
        """The column to blame for a domain error about `field`."""
        if field in self.field_columns:
            return self.field_columns[field]
        head = field.split(".", 1)[0]
        return head if head in self.row_model.model_fields else self.field_columns.get(head, head)

    def default(self, column: str) -> Any:
        """The value an empty optional cell stands for."""
        return _defaults(self.row_model)[column]


_DEFAULTS: dict[type[BaseModel], dict[str, Any]] = {}


def _defaults(model: type[BaseModel]) -> dict[str, Any]:
    """Default of every optional column (factories called once; pydantic copies the input)."""
    if model not in _DEFAULTS:
        _DEFAULTS[model] = {
            name: f.get_default(call_default_factory=True)
            for name, f in model.model_fields.items()
            if not f.is_required()
        }
    return _DEFAULTS[model]


# --- organisations ------------------------------------------------------------------------


def organisation_values(organisation: Organisation) -> dict[str, Any]:
    return {
        "id": organisation.id,
        "name": organisation.name,
        "kind": organisation.kind,
        "country": organisation.country,
        "contact": organisation.contact,
    }


def build_organisation(values: Mapping[str, Any]) -> Organisation:
    return Organisation(
        id=values["id"],
        name=values["name"],
        kind=values["kind"],
        country=values["country"],
        contact=values.get("contact", ""),
    )


# --- facilities ---------------------------------------------------------------------------


def facility_values(facility: Facility) -> dict[str, Any]:
    cost = facility.cost_policy
    return {
        "id": facility.id,
        "name": facility.name,
        "kind": facility.kind,
        "operator_id": facility.operator_id,
        "country": facility.country,
        "city": facility.city,
        "lat": facility.location.lat,
        "lon": facility.location.lon,
        "specialties": frozenset(facility.specialties),
        "capabilities": frozenset(facility.capabilities),
        "total_beds": facility.total_beds,
        "daily_admission_limit": facility.daily_admission_limit,
        "daily_outpatient_throughput": facility.daily_outpatient_throughput,
        "tariff_per_bed_day": None if cost.free_of_charge else cost.tariff_per_bed_day,
        "currency": "" if cost.free_of_charge else (cost.currency or ""),
    }


def cost_policy(tariff: Decimal | None, currency: str) -> CostPolicy:
    """Free of charge when neither a tariff nor a currency is given."""
    if tariff is None and not currency:
        return CostPolicy.free()
    if tariff is None:
        raise InvalidValue("tariff_per_bed_day", f"currency {currency!r} is given without a tariff")
    if not currency:
        raise InvalidValue("currency", "a tariff needs an ISO 4217 currency code such as EUR")
    return CostPolicy(False, Decimal(tariff), currency.upper())


def build_facility(values: Mapping[str, Any]) -> Facility:
    return Facility(
        id=values["id"],
        name=values["name"],
        kind=values["kind"],
        operator_id=values["operator_id"],
        country=values["country"],
        location=Coordinates(float(values["lat"]), float(values["lon"])),
        specialties=frozenset(values.get("specialties", ())),
        capabilities=frozenset(values.get("capabilities", ())),
        total_beds=values.get("total_beds"),
        daily_admission_limit=values.get("daily_admission_limit"),
        daily_outpatient_throughput=values.get("daily_outpatient_throughput"),
        cost_policy=cost_policy(values.get("tariff_per_bed_day"), values.get("currency", "")),
        city=values.get("city", ""),
    )


# --- capacity reports ---------------------------------------------------------------------


def capacity_values(report: CapacityReport) -> dict[str, Any]:
    return {
        "facility_id": report.facility_id,
        "specialty": report.specialty,
        "available": report.available,
        "baseline": report.baseline,
        "plus_24h": report.plus_24h,
        "plus_72h": report.plus_72h,
        "reported_at": report.reported_at,
    }


def build_capacity(values: Mapping[str, Any]) -> CapacityReport:
    return CapacityReport(
        facility_id=values["facility_id"],
        specialty=values["specialty"],
        available=values["available"],
        baseline=values["baseline"],
        plus_24h=values.get("plus_24h", 0),
        plus_72h=values.get("plus_72h", 0),
        reported_at=values["reported_at"],
    )


def capacity_key(values: Mapping[str, Any]) -> tuple[str, Specialty, datetime]:
    """Facility, specialty and report time: a capacity report's identity."""
    return (values["facility_id"], Specialty(values["specialty"]), values["reported_at"])


# --- patients -----------------------------------------------------------------------------


def patient_values(patient: Patient) -> dict[str, Any]:
    identity = patient.identity
    return {
        "id": patient.id,
        "organisation_id": patient.organisation_id,
        "location_id": patient.location_id,
        "required_specialties": tuple(patient.required_specialties),
        "precedence": patient.precedence,
        "mobility": patient.mobility,
        "triage": patient.triage,
        "fit_to_transport": patient.fit_to_transport,
        "expected_length_of_stay_days": patient.expected_length_of_stay_days,
        "companions": patient.companions,
        "special_needs": frozenset(patient.special_needs),
        "conditions": tuple(patient.conditions),
        "name": identity.name,
        "birth_date": identity.birth_date,
        "sex": identity.sex,
        "nationality": identity.nationality or "",
        "service_status": identity.service_status,
        "affiliation": identity.affiliation,
    }


def _condition(value: Condition | Mapping[str, Any] | ConditionRow) -> Condition:
    if isinstance(value, Condition):
        return value
    if isinstance(value, ConditionRow):
        return Condition(value.body_region, value.description, value.mechanism)
    return Condition(
        body_region=value["body_region"],
        description=value["description"],
        mechanism=value.get("mechanism", InjuryMechanism.OTHER),
    )


def build_patient(values: Mapping[str, Any]) -> Patient:
    """A patient in status `reported` (the service sets the imported status and history)."""
    identity = Identity(
        name=values.get("name", ""),
        birth_date=values.get("birth_date"),
        sex=values.get("sex", Sex.UNKNOWN),
        nationality=values.get("nationality") or None,
        service_status=values.get("service_status", ServiceStatus.UNKNOWN),
        affiliation=values.get("affiliation", ""),
    )
    return Patient(
        id=values["id"],
        organisation_id=values["organisation_id"],
        required_specialties=tuple(values["required_specialties"]),
        precedence=values["precedence"],
        mobility=values["mobility"],
        triage=values.get("triage", TriageCategory.T2),
        identity=identity,
        conditions=tuple(_condition(c) for c in values.get("conditions", ())),
        companions=values.get("companions", 0),
        special_needs=frozenset(values.get("special_needs", ())),
        fit_to_transport=values.get("fit_to_transport", False),
        expected_length_of_stay_days=values.get("expected_length_of_stay_days"),
        location_id=values.get("location_id"),
    )


def _by_id(values: Mapping[str, Any]) -> Hashable:
    return str(values["id"])


SPECS: dict[RecordKind, RecordSpec[Any]] = {
    RecordKind.ORGANISATIONS: RecordSpec(
        kind=RecordKind.ORGANISATIONS,
        row_model=OrganisationRow,
        entity_type="organisation",
        code_list_columns=frozenset(),
        condition_columns=frozenset(),
        values=organisation_values,
        build=build_organisation,
        key=_by_id,
        key_columns=("id",),
        field_columns={},
    ),
    RecordKind.FACILITIES: RecordSpec(
        kind=RecordKind.FACILITIES,
        row_model=FacilityRow,
        entity_type="facility",
        code_list_columns=frozenset({"specialties", "capabilities"}),
        condition_columns=frozenset(),
        values=facility_values,
        build=build_facility,
        key=_by_id,
        key_columns=("id",),
        field_columns={"cost": "tariff_per_bed_day", "operator": "operator_id"},
        decimal_columns=frozenset({"tariff_per_bed_day"}),
    ),
    RecordKind.CAPACITY: RecordSpec(
        kind=RecordKind.CAPACITY,
        row_model=CapacityRow,
        entity_type="capacity_report",
        code_list_columns=frozenset(),
        condition_columns=frozenset(),
        values=capacity_values,
        build=build_capacity,
        key=capacity_key,
        key_columns=("facility_id", "specialty", "reported_at"),
        field_columns={},
    ),
    RecordKind.PATIENTS: RecordSpec(
        kind=RecordKind.PATIENTS,
        row_model=PatientRow,
        entity_type="patient",
        code_list_columns=frozenset({"required_specialties", "special_needs"}),
        condition_columns=frozenset({"conditions"}),
        values=patient_values,
        build=build_patient,
        key=_by_id,
        key_columns=("id",),
        field_columns={"organisation": "organisation_id", "location": "location_id"},
    ),
}


# --- plain (JSON-ready) values, used for export -------------------------------------------


_SCALARS = frozenset({str, int, float, bool, type(None)})


def plain(value: Any) -> Any:
    """A JSON-ready form of a column value: codes, ISO dates, sorted code lists."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if isinstance(value, str):  # a StrEnum code; str() gives its value
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if kind is Condition:
        return {
            "body_region": str(value.body_region),
            "mechanism": str(value.mechanism),
            "description": value.description,
        }
    if isinstance(value, frozenset | set):
        return sorted(plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def patient_row(patient: Patient) -> dict[str, Any]:
    """A patient's export row written out field by field: imports audit every patient, and
    this is several times faster than `plain` over `patient_values` (a test keeps them equal).
    """
    identity = patient.identity
    birth_date = identity.birth_date
    return {
        "id": patient.id,
        "organisation_id": patient.organisation_id,
        "location_id": patient.location_id,
        "required_specialties": [str(s) for s in patient.required_specialties],
        "precedence": str(patient.precedence),
        "mobility": str(patient.mobility),
        "triage": str(patient.triage),
        "fit_to_transport": patient.fit_to_transport,
        "expected_length_of_stay_days": patient.expected_length_of_stay_days,
        "companions": patient.companions,
        "special_needs": sorted(str(n) for n in patient.special_needs),
        "conditions": [
            {
                "body_region": str(c.body_region),
                "mechanism": str(c.mechanism),
                "description": c.description,
            }
            for c in patient.conditions
        ],
        "name": identity.name,
        "birth_date": None if birth_date is None else birth_date.isoformat(),
        "sex": str(identity.sex),
        "nationality": identity.nationality or "",
        "service_status": str(identity.service_status),
        "affiliation": identity.affiliation,
        "status": str(patient.status),
    }


def export_row(spec: RecordSpec[Any], entity: Any) -> dict[str, Any]:
    """The row written for an entity: every import column (and the status of a patient)."""
    if isinstance(entity, Patient):
        return patient_row(entity)
    return {name: plain(value) for name, value in spec.values(entity).items()}


# --- CSV cells ----------------------------------------------------------------------------


class CellError(ValueError):
    """A CSV cell that cannot be decoded into its JSON shape."""


def decode_condition(text: str) -> dict[str, str]:
    """`region:mechanism:description` (mechanism may be empty: other) as a condition object."""
    parts = text.split(CONDITION_PART_SEPARATOR, 2)
    if len(parts) != 3:
        raise CellError(
            f"{text!r} is not body_region{CONDITION_PART_SEPARATOR}mechanism"
            f"{CONDITION_PART_SEPARATOR}description"
        )
    region, mechanism, description = (p.strip() for p in parts)
    condition = {"body_region": region, "description": description}
    if mechanism:
        condition["mechanism"] = mechanism
    return condition


def decode_csv_row(
    spec: RecordSpec[Any], cells: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Turn CSV text cells into the JSON shapes the row model validates.

    An empty optional cell stands for the column's empty value (it clears the field on
    update); an empty required cell is left out, so validation reports it as missing.
    Returns the decoded row and the cells that could not be decoded (column -> reason).
    """
    row: dict[str, Any] = {}
    problems: dict[str, str] = {}
    defaults = _defaults(spec.row_model)
    codes, conditions = spec.code_list_columns, spec.condition_columns
    for column, raw in cells.items():
        # the mark comes off before the cell is stripped: "'\t" is a marked tab, not "'"
        text = unmark_text(raw.lstrip()).strip()
        if not text:
            if column in defaults:
                row[column] = defaults[column]
        elif column in codes:
            row[column] = [c.strip() for c in text.split(CODE_SEPARATOR) if c.strip()]
        elif column in conditions:
            try:
                row[column] = [
                    decode_condition(part)
                    for part in text.split(CONDITION_SEPARATOR)
                    if part.strip()
                ]
            except CellError as error:
                problems[column] = str(error)
        else:
            row[column] = text
    return row, problems


def encode_csv_cell(spec: RecordSpec[Any], column: str, value: Any) -> str:
    """The CSV text of a plain column value (inverse of `decode_csv_row`).

    Numbers are written as they are (a negative longitude stays `-33.5`); any other text that
    a spreadsheet would take for a formula is marked as text (`mark_text`).
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return mark_text(_cell_text(spec, column, value))


def _cell_text(spec: RecordSpec[Any], column: str, value: Any) -> str:
    if column in spec.condition_columns:
        parts = []
        for condition in value:
            description = condition["description"]
            if CONDITION_SEPARATOR in description:
                raise InvalidValue(
                    column,
                    f"description {description!r} contains {CONDITION_SEPARATOR!r}, which CSV"
                    " uses between conditions; export to JSON instead",
                )
            parts.append(
                CONDITION_PART_SEPARATOR.join(
                    (condition["body_region"], condition["mechanism"], description)
                )
            )
        return CONDITION_SEPARATOR.join(parts)
    if isinstance(value, list):
        return CODE_SEPARATOR.join(str(v) for v in value)
    return str(value)
