"""The patient lifecycle: statuses, the allowed moves between them and who may make each move.

reported -> screening -> selected / deferred / declined -> referred -> accepted -> scheduled
-> in transit -> admitted -> in treatment -> rehabilitation -> discharged -> repatriated;
died and cancelled from any live state.
"""

from __future__ import annotations

from enum import StrEnum

from medevac.domain.errors import IllegalTransition, InvalidValue
from medevac.domain.limits import text_fault


class PatientStatus(StrEnum):
    """Where a patient stands in the evacuation and treatment chain."""

    REPORTED = "reported"
    SCREENING = "screening"
    SELECTED = "selected"
    DEFERRED = "deferred"
    DECLINED = "declined"
    REFERRED = "referred"
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    IN_TRANSIT = "in_transit"
    ADMITTED = "admitted"
    IN_TREATMENT = "in_treatment"
    REHABILITATION = "rehabilitation"
    DISCHARGED = "discharged"
    REPATRIATED = "repatriated"
    DIED = "died"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def is_live(self) -> bool:
        return self not in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {PatientStatus.REPATRIATED, PatientStatus.DIED, PatientStatus.CANCELLED}
)

S = PatientStatus

#: Statuses of a patient that has left for its receiving facility (or come back since): one
#: that died after reaching any of them used its place abroad, and keeps counting against the
#: quota of the agreement it went under (`services.quota_count`)
LEFT_STATUSES = frozenset(
    {
        PatientStatus.IN_TRANSIT,
        PatientStatus.ADMITTED,
        PatientStatus.IN_TREATMENT,
        PatientStatus.REHABILITATION,
        PatientStatus.DISCHARGED,
        PatientStatus.REPATRIATED,
    }
)

#: Forward moves of the chain, and the few sanctioned steps back. Died and cancelled are
#: added below from every live status.
_CHAIN: dict[PatientStatus, frozenset[PatientStatus]] = {
    S.REPORTED: frozenset({S.SCREENING}),
    S.SCREENING: frozenset({S.SELECTED, S.DEFERRED, S.DECLINED}),
    # A deferred patient is examined again later.
    S.DEFERRED: frozenset({S.SCREENING}),
    # A declined patient may be reconsidered: screened again, with a reason.
    S.DECLINED: frozenset({S.SCREENING}),
    S.SELECTED: frozenset({S.REFERRED}),
    # The receiving side accepts or declines a referral; a withdrawn referral returns the
    # patient to the selected pool so that another partner can be asked.
    S.REFERRED: frozenset({S.ACCEPTED, S.DECLINED, S.SELECTED}),
    # An accepted patient is scheduled onto a transport; an acceptance can be withdrawn.
    S.ACCEPTED: frozenset({S.SCHEDULED, S.SELECTED}),
    # A cancelled flight returns the patient to accepted, to be scheduled again.
    S.SCHEDULED: frozenset({S.IN_TRANSIT, S.ACCEPTED}),
    S.IN_TRANSIT: frozenset({S.ADMITTED}),
    S.ADMITTED: frozenset({S.IN_TREATMENT, S.DISCHARGED}),
    S.IN_TREATMENT: frozenset({S.REHABILITATION, S.DISCHARGED}),
    S.REHABILITATION: frozenset({S.DISCHARGED}),
    S.DISCHARGED: frozenset({S.REPATRIATED}),
    S.REPATRIATED: frozenset(),
    S.DIED: frozenset(),
    S.CANCELLED: frozenset(),
}

ALLOWED_TRANSITIONS: dict[PatientStatus, frozenset[PatientStatus]] = {
    status: nxt | ({S.DIED, S.CANCELLED} if status.is_live else frozenset())
    for status, nxt in _CHAIN.items()
}

#: Moves that must say why: every decline, deferral, step back, death and cancellation.
REASON_REQUIRED: frozenset[tuple[PatientStatus, PatientStatus]] = frozenset(
    {(a, b) for a in S for b in (S.DECLINED, S.DEFERRED, S.DIED, S.CANCELLED)}
    | {(S.DECLINED, S.SCREENING), (S.REFERRED, S.SELECTED), (S.ACCEPTED, S.SELECTED)}
    | {(S.SCHEDULED, S.ACCEPTED)}
)


class ActorRole(StrEnum):
    """The part a person plays in a move; it limits which moves they may make."""

    COORDINATOR = "coordinator"
    SCREENING_CLINICIAN = "screening_clinician"
    RECEIVING_FACILITY = "receiving_facility"
    SYSTEM = "system"


#: The moves each role may make, as (from, to) pairs (None: any move the lifecycle allows).
#: A role's right depends on where the patient comes from as well as where it goes: a
#: receiving facility that declines a referral may not decline a patient in screening.
ROLE_MOVES: dict[ActorRole, frozenset[tuple[PatientStatus, PatientStatus]] | None] = {
    ActorRole.COORDINATOR: None,
    ActorRole.SYSTEM: None,
    # The screening clinician runs screening: takes a candidate into it (first examination,
    # a deferred patient examined again, a declined one reconsidered) and decides it.
    ActorRole.SCREENING_CLINICIAN: frozenset(
        {(S.REPORTED, S.SCREENING), (S.DEFERRED, S.SCREENING), (S.DECLINED, S.SCREENING)}
        | {(S.SCREENING, S.SELECTED), (S.SCREENING, S.DEFERRED), (S.SCREENING, S.DECLINED)}
    ),
    # A receiving facility may only accept or decline a referral and admit an arrival.
    ActorRole.RECEIVING_FACILITY: frozenset(
        {(S.REFERRED, S.ACCEPTED), (S.REFERRED, S.DECLINED), (S.IN_TRANSIT, S.ADMITTED)}
    ),
}

#: What each restricted role does, to tell whoever is refused a move which role makes it.
_DUTIES: dict[ActorRole, str] = {
    ActorRole.SCREENING_CLINICIAN: "the screening clinician decides screening",
    ActorRole.RECEIVING_FACILITY: (
        "the receiving facility answers referrals and admits arriving patients"
    ),
}


def role_may(role: ActorRole, current: PatientStatus, target: PatientStatus) -> bool:
    """Whether `role` may make the move from `current` to `target` (if the lifecycle allows it)."""
    moves = ROLE_MOVES[role]
    return moves is None or (current, target) in moves


def _role_name(role: ActorRole) -> str:
    return role.value.replace("_", " ")


def _who_moves(current: PatientStatus, target: PatientStatus) -> str:
    """Which role makes the move from `current` to `target`, for a refusal's message."""
    duties = [duty for role, duty in _DUTIES.items() if role_may(role, current, target)]
    return "; ".join(duties) if duties else "a coordinator makes this move"


def check_transition(
    entity: str,
    current: PatientStatus,
    target: PatientStatus,
    role: ActorRole = ActorRole.COORDINATOR,
    reason: str = "",
) -> None:
    """Raise IllegalTransition unless `role` may move from `current` to `target` with `reason`."""
    if current == target:
        raise IllegalTransition(entity, current, target, f"the patient is already {current}")
    if current.is_terminal:
        raise IllegalTransition(
            entity, current, target, f"{current} is final; no further move is possible"
        )
    allowed = ALLOWED_TRANSITIONS[current]
    if target not in allowed:
        options = ", ".join(sorted(allowed))
        raise IllegalTransition(
            entity, current, target, f"from {current} the allowed moves are: {options}"
        )
    if not role_may(role, current, target):
        raise IllegalTransition(
            entity,
            current,
            target,
            f"a {_role_name(role)} may not move a patient from {current} to {target}; "
            + _who_moves(current, target),
        )
    if (current, target) in REASON_REQUIRED and not reason.strip():
        raise IllegalTransition(entity, current, target, "this move needs a reason")


def free_text_fault(value: str) -> str | None:
    """What makes ``value`` unfit for a free text (a move's reason, a request's note, an
    answer's or a closing reason, screening criteria notes), or None: `text_fault`'s control
    characters and lone surrogates, but for line breaks and tabs, which a long text may hold.
    A NUL had been stored by SQLite and refused by PostgreSQL naming no field, and a lone
    surrogate (an invalid UTF-8 byte in a command line) had crashed SQLite's write."""
    return text_fault(value.replace("\n", " ").replace("\t", " "))


def check_free_text(field: str, value: str) -> None:
    """Refuse a free text holding what `free_text_fault` names (InvalidValue naming ``field``)."""
    fault = free_text_fault(value)
    if fault is not None:
        raise InvalidValue(field, fault)
