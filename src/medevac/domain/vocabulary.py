"""Controlled vocabularies of the domain (StrEnum values are the stored and exchanged codes)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OrganisationKind(StrEnum):
    """What kind of body an organisation is."""

    MINISTRY_OF_HEALTH = "ministry_of_health"
    DEFENCE_MEDICAL_SERVICE = "defence_medical_service"
    HUMANITARIAN_OPERATION = "humanitarian_operation"
    HOSPITAL_OPERATOR = "hospital_operator"
    COORDINATION_CELL = "coordination_cell"


class FacilityKind(StrEnum):
    """What kind of place a facility is; field hospitals carry their WHO EMT type."""

    HOSPITAL = "hospital"
    MILITARY_MEDICAL_ACADEMY = "military_medical_academy"
    REHABILITATION_CENTRE = "rehabilitation_centre"
    STAGING_HUB = "staging_hub"
    EMT_TYPE_1_MOBILE = "emt_type_1_mobile"
    EMT_TYPE_1_FIXED = "emt_type_1_fixed"
    EMT_TYPE_2 = "emt_type_2"
    EMT_TYPE_3 = "emt_type_3"

    @property
    def is_field_hospital(self) -> bool:
        return self.value.startswith("emt_")


class HaveBedType(StrEnum):
    """OASIS EDXL-HAVE bed types."""

    ADULT_ICU = "AdultICU"
    PEDIATRIC_ICU = "PediatricICU"
    NEONATAL_ICU = "NeonatalICU"
    EMERGENCY_DEPARTMENT = "EmergencyDepartment"
    MEDICAL_SURGICAL = "MedicalSurgical"
    REHAB_LONG_TERM_CARE = "RehabLongTermCare"
    BURN = "Burn"
    PEDIATRICS = "Pediatrics"
    PSYCHIATRIC = "Psychiatric"
    NEGATIVE_FLOW_ISOLATION = "NegativeFlowIsolation"
    OTHER_ISOLATION = "OtherIsolation"
    OPERATING_ROOMS = "OperatingRooms"


class Specialty(StrEnum):
    """medevac's own specialty list; beds are reported and planned per specialty."""

    GENERAL_SURGERY = "general_surgery"
    ORTHOPAEDICS = "orthopaedics"
    NEUROSURGERY = "neurosurgery"
    NEUROLOGY = "neurology"
    OPHTHALMOLOGY = "ophthalmology"
    MAXILLOFACIAL_SURGERY = "maxillofacial_surgery"
    BURNS = "burns"
    VASCULAR_SURGERY = "vascular_surgery"
    THORACIC_SURGERY = "thoracic_surgery"
    INTENSIVE_CARE = "intensive_care"
    REHABILITATION = "rehabilitation"
    PSYCHIATRY = "psychiatry"
    PAEDIATRICS = "paediatrics"
    ONCOLOGY = "oncology"
    INTERNAL_MEDICINE = "internal_medicine"

    @property
    def label(self) -> str:
        return SPECIALTY_INFO[self].label

    @property
    def have_bed_type(self) -> HaveBedType:
        return SPECIALTY_INFO[self].have_bed_type

    @property
    def have_service(self) -> str | None:
        return SPECIALTY_INFO[self].have_service


@dataclass(frozen=True, slots=True)
class SpecialtyInfo:
    """How a specialty is named for people and which EDXL-HAVE codes it maps to."""

    label: str
    have_bed_type: HaveBedType
    have_service: str | None  # EDXL-HAVE service coverage code, None where HAVE has none


SPECIALTY_INFO: dict[Specialty, SpecialtyInfo] = {
    Specialty.GENERAL_SURGERY: SpecialtyInfo(
        "General surgery", HaveBedType.MEDICAL_SURGICAL, "Surgery"
    ),
    Specialty.ORTHOPAEDICS: SpecialtyInfo(
        "Orthopaedics and trauma", HaveBedType.MEDICAL_SURGICAL, "Orthopedic"
    ),
    Specialty.NEUROSURGERY: SpecialtyInfo("Neurosurgery", HaveBedType.MEDICAL_SURGICAL, None),
    Specialty.NEUROLOGY: SpecialtyInfo("Neurology", HaveBedType.MEDICAL_SURGICAL, "Neurology"),
    Specialty.OPHTHALMOLOGY: SpecialtyInfo(
        "Ophthalmology", HaveBedType.MEDICAL_SURGICAL, "Ophthalmology"
    ),
    Specialty.MAXILLOFACIAL_SURGERY: SpecialtyInfo(
        "Maxillofacial surgery", HaveBedType.MEDICAL_SURGICAL, None
    ),
    Specialty.BURNS: SpecialtyInfo("Burns", HaveBedType.BURN, "Burn"),
    Specialty.VASCULAR_SURGERY: SpecialtyInfo(
        "Vascular surgery", HaveBedType.MEDICAL_SURGICAL, None
    ),
    Specialty.THORACIC_SURGERY: SpecialtyInfo(
        "Thoracic surgery", HaveBedType.MEDICAL_SURGICAL, None
    ),
    Specialty.INTENSIVE_CARE: SpecialtyInfo("Intensive care", HaveBedType.ADULT_ICU, None),
    Specialty.REHABILITATION: SpecialtyInfo(
        "Rehabilitation", HaveBedType.REHAB_LONG_TERM_CARE, None
    ),
    Specialty.PSYCHIATRY: SpecialtyInfo("Psychiatry", HaveBedType.PSYCHIATRIC, "Psychiatric"),
    Specialty.PAEDIATRICS: SpecialtyInfo("Paediatrics", HaveBedType.PEDIATRICS, "Pediatrics"),
    Specialty.ONCOLOGY: SpecialtyInfo("Oncology", HaveBedType.MEDICAL_SURGICAL, None),
    Specialty.INTERNAL_MEDICINE: SpecialtyInfo(
        "Internal medicine", HaveBedType.MEDICAL_SURGICAL, None
    ),
}


class Capability(StrEnum):
    """Flags a facility offers beyond its specialties; patient needs are matched against them."""

    PAEDIATRIC = "paediatric"
    BURNS = "burns"
    INTENSIVE_CARE = "intensive_care"
    ISOLATION = "isolation"
    OXYGEN = "oxygen"
    VENTILATOR = "ventilator"


class SpecialNeed(StrEnum):
    """What a patient needs on arrival; each need is met by one facility capability."""

    ISOLATION = "isolation"
    OXYGEN = "oxygen"
    VENTILATOR = "ventilator"
    PAEDIATRIC = "paediatric"

    @property
    def capability(self) -> Capability:
        return Capability(self.value)


class Precedence(StrEnum):
    """NATO 9-line evacuation precedence, most urgent first."""

    URGENT = "urgent"
    URGENT_SURGICAL = "urgent_surgical"
    PRIORITY = "priority"
    ROUTINE = "routine"
    CONVENIENCE = "convenience"

    @property
    def rank(self) -> int:
        """0 for the most urgent."""
        return list(Precedence).index(self)


class TriageCategory(StrEnum):
    """T1 immediate, T2 delayed, T3 minimal, T4 expectant."""

    T1 = "T1"
    T2 = "T2"
    T3 = "T3"
    T4 = "T4"


class Mobility(StrEnum):
    """How a patient travels: on a litter (stretcher) or seated."""

    LITTER = "litter"
    AMBULATORY = "ambulatory"


class Sex(StrEnum):
    """Administrative sex as recorded (FHIR administrative-gender codes)."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class ServiceStatus(StrEnum):
    """Whether the patient is a civilian or serves in armed or security forces."""

    CIVILIAN = "civilian"
    SERVICE_MEMBER = "service_member"
    VETERAN = "veteran"
    UNKNOWN = "unknown"


class BodyRegion(StrEnum):
    """Body region of a condition."""

    HEAD = "head"
    FACE = "face"
    EYE = "eye"
    NECK = "neck"
    CHEST = "chest"
    ABDOMEN = "abdomen"
    PELVIS = "pelvis"
    SPINE = "spine"
    UPPER_LIMB = "upper_limb"
    LOWER_LIMB = "lower_limb"
    SKIN = "skin"
    MULTIPLE = "multiple"
    SYSTEMIC = "systemic"


class InjuryMechanism(StrEnum):
    """How a condition came about."""

    BLAST = "blast"
    GUNSHOT = "gunshot"
    SHRAPNEL = "shrapnel"
    BURN = "burn"
    CRUSH = "crush"
    FALL = "fall"
    ROAD_TRAFFIC = "road_traffic"
    ILLNESS = "illness"
    OTHER = "other"
