"""Command handlers: plain functions, one unit of work each; state and events commit together.

Every handler loads what it changes with FOR UPDATE before writing, so that two commands on one
aggregate serialise and their events reach the outbox (and Kafka) in the order they happened. Every
handler works in the unit of work's tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import asyncpg
from pydantic import ValidationError

from services.pairing import erasure_repository, matching_adapter, repository
from services.pairing.domain import directory, pairs, participants, programmes
from shared import erasure
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events.common import PairEndReason
from shared.events.directory import EmployeeChangeIgnored, EmployeeRenumbered, EmployeeUpdated, Origin
from shared.events.pairing import (
    FreeTextExpired,
    MatchRunCompleted,
    PairCreated,
    PairProposed,
    RetentionPolicySet,
    SubjectErased,
)
from shared.events.pairing import Proposal as EventProposal
from shared.events.pairing import Reason as EventReason
from shared.events.pairing import Unmatched as EventUnmatched
from shared.metrics import timed
from shared.uow import UnitOfWork


def new_id() -> str:
    return str(uuid.uuid4())


def invalid(exc: ValidationError, *, prefix: str = "") -> InvalidInput:
    """A pydantic error as an InvalidInput that names the first field and lists them all."""
    details: list[dict[str, str | int | None]] = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        details.append({"field": prefix + field, "message": err["msg"]})
    first = details[0] if details else {"field": prefix or None, "message": "invalid"}
    return InvalidInput(f"{first['field']}: {first['message']}", field=str(first["field"]), details=details)


# --- programmes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateProgramme:
    name: str
    starts_on: date
    ends_on: date
    cadence_days: int
    focus_topics: list[str]
    matching_policy: dict[str, Any]
    requires_consent: bool = False
    consent_days: int = 7
    hr_contact_email: str | None = None
    programme_id: str | None = None
    launch: bool = False
    min_group_size: int = 5
    hr_locale: str = "en"


async def create_programme(uow: UnitOfWork, cmd: CreateProgramme) -> programmes.Programme:
    matching_adapter.policy(cmd.matching_policy)  # refuse a policy the engine cannot run, now
    programme = programmes.new_programme(
        cmd.programme_id or new_id(),
        cmd.name,
        cmd.starts_on,
        cmd.ends_on,
        cmd.cadence_days,
        cmd.focus_topics,
        matching_policy=cmd.matching_policy,
        requires_consent=cmd.requires_consent,
        consent_days=cmd.consent_days,
        hr_contact_email=cmd.hr_contact_email,
        min_group_size=cmd.min_group_size,
        hr_locale=cmd.hr_locale,
    )
    if cmd.launch:
        launched = programme.launch()
        programme = programmes.evolve(programme, launched)
        uow.emit(launched)
    try:
        await repository.insert_programme(uow.conn, uow.tenant, programme)
    except asyncpg.UniqueViolationError:
        raise Conflict(f"programme {programme.programme_id} exists", field="programme_id", code="exists") from None
    await uow.commit()
    return programme


async def launch_programme(uow: UnitOfWork, programme_id: str) -> programmes.Programme:
    return await _change_programme(uow, programme_id, programmes.Programme.launch)


async def close_programme(uow: UnitOfWork, programme_id: str) -> programmes.Programme:
    return await _change_programme(uow, programme_id, programmes.Programme.close)


async def _change_programme(
    uow: UnitOfWork,
    programme_id: str,
    decide: Callable[[programmes.Programme], programmes.ProgrammeEvent],
) -> programmes.Programme:
    """Lock the programme, decide one command's event, evolve the programme by it, save both."""
    programme = await repository.get_programme(uow.conn, uow.tenant, programme_id, for_update=True)
    event = decide(programme)
    programme = programmes.evolve(programme, event)
    await repository.set_programme_state(uow.conn, uow.tenant, programme)
    uow.emit(event)
    await uow.commit()
    return programme


# --- participants ----------------------------------------------------------------------------------


async def enrol_participants(
    uow: UnitOfWork, programme_id: str, rows: list[dict[str, Any]], *, row_label: str = "row"
) -> list[participants.Participant]:
    """Enrol employees of the directory by id; all or nothing. The profile comes from the directory, the
    programme's fields (role, topics, goal, capacity, availability) from the rows. Errors name the row
    (1-based) and the field."""
    tenant = uow.tenant
    programme = await repository.get_programme(uow.conn, tenant, programme_id, for_update=True)
    programme.require_enrolment_open()
    wanted = [str(row.get("employee_id") or "") for row in rows]
    people = await repository.employees_by_id(uow.conn, tenant, [w for w in wanted if w])
    enrolled_already = await repository.enrolled_employees(uow.conn, tenant, programme_id, [w for w in wanted if w])
    enrolled: list[participants.Participant] = []
    errors: list[dict[str, str | int | None]] = []
    seen: set[str] = set()

    def fail(number: int, field: str | None, message: str, code: str = "invalid_input") -> None:
        prefix = f"{row_label} {number}: " if len(rows) > 1 or row_label != "row" else ""
        errors.append({"row": number, "field": field, "message": f"{prefix}{message}", "code": code})

    for number, row in enumerate(rows, start=1):
        employee_id = str(row.get("employee_id") or "")
        data = {**row, "programme_id": programme_id, "participant_id": row.get("participant_id") or new_id()}
        employee = people.get(employee_id)
        if employee_id and employee is None:
            fail(number, "employee_id", f"employee {employee_id} is not in the directory of this organisation")
            continue
        if employee_id in enrolled_already:
            fail(
                number,
                "employee_id",
                f"employee {employee_id} is already enrolled in programme {programme_id}",
                code="already_enrolled",
            )
            continue
        if employee_id in seen:
            fail(number, "employee_id", f"employee {employee_id} appears twice")
            continue
        try:
            profile = directory.participant_profile(employee) if employee is not None else {}
            event = participants.enrol(data, profile)
            participant = participants.evolve(None, event)
        except ValidationError as exc:
            for d in invalid(exc).details:
                fail(number, str(d["field"]), f"{d['field']}: {d['message']}")
            continue
        except InvalidInput as exc:
            fail(number, exc.field, exc.message)
            continue
        unknown_topics = (set(event.teach_topics) | set(event.learn_topics)) - set(programme.focus_topics)
        if unknown_topics:
            fail(
                number,
                "teach_topics" if event.role == "mentor" else "learn_topics",
                f"{', '.join(sorted(unknown_topics))} not among the programme's focus topics "
                f"({', '.join(programme.focus_topics)})",
            )
            continue
        seen.add(participant.employee_id)
        enrolled.append(participant)
        uow.emit(event)
    if errors:
        first = errors[0]
        if all(e["code"] == "already_enrolled" for e in errors):
            raise Conflict(str(first["message"]), field="employee_id", code="already_enrolled", details=errors)
        raise InvalidInput(str(first["message"]), field=str(first["field"]), details=errors)
    try:
        await repository.insert_participants(uow.conn, tenant, enrolled)
    except asyncpg.UniqueViolationError as exc:  # a concurrent request enrolled one of them first
        raise Conflict(
            f"an employee in this request was enrolled in programme {programme_id} meanwhile ({exc.detail})",
            field="employee_id",
            code="already_enrolled",
        ) from None
    await uow.commit()
    return enrolled


async def update_participant(uow: UnitOfWork, participant_id: str, changes: dict[str, Any]) -> participants.Participant:
    current = await repository.get_participant(uow.conn, uow.tenant, participant_id, for_update=True)
    try:
        event = current.update(changes)
    except ValidationError as exc:
        raise invalid(exc) from None
    participant = participants.evolve(current, event)
    await repository.update_participant(uow.conn, uow.tenant, participant)
    uow.emit(event)
    await uow.commit()
    return participant


async def withdraw_participant(
    uow: UnitOfWork, participant_id: str, reason: participants.WithdrawReason = "withdrawn"
) -> tuple[participants.Participant, list[pairs.Pair]]:
    """Withdraw and, in the same transaction, end their live pairs (reason withdrawn or left_company)."""
    participant = await repository.get_participant(uow.conn, uow.tenant, participant_id, for_update=True)
    result = await _withdraw(uow, participant, reason)
    await uow.commit()
    return result


async def _withdraw(
    uow: UnitOfWork, participant: participants.Participant, reason: participants.WithdrawReason
) -> tuple[participants.Participant, list[pairs.Pair]]:
    event = participant.withdraw(reason)
    participant = participants.evolve(participant, event)
    await repository.update_participant(uow.conn, uow.tenant, participant)
    uow.emit(event)
    end_reason: PairEndReason = "left_company" if reason == "left_company" else "withdrawn"
    why = "left the company" if reason == "left_company" else "withdrew from the programme"
    ended = []
    for pair in await repository.live_pairs_of(uow.conn, uow.tenant, participant.participant_id, for_update=True):
        if pair.state == "proposed":
            declined = pair.decline(participant.participant_id, reason=f"{participant.display_name} {why}")
            after = pairs.evolve_all(pair, [declined])
            await repository.update_pair(uow.conn, uow.tenant, after)
            uow.emit(declined)
            ended.append(after)
            continue
        ended_event = pair.end(end_reason, note=f"{participant.display_name} {why}")
        after = pairs.evolve_all(pair, [ended_event])
        await repository.update_pair(uow.conn, uow.tenant, after)
        uow.emit(ended_event)
        ended.append(after)
    return participant, ended


# --- the employee directory ------------------------------------------------------------------------


@dataclass
class DirectoryResult:
    """What a batch of directory changes did."""

    events: list[directory.DirectoryEvent] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    participants_updated: int = 0
    withdrawn: int = 0
    paused: int = 0
    resumed: int = 0
    flagged: int = 0
    cleared: int = 0
    revision: int = 0


async def apply_directory_changes(
    uow: UnitOfWork,
    changes: Sequence[directory.Change],
    *,
    origin: Origin,
    effective_at: datetime,
    source_event_id: str | None = None,
    commit: bool = True,
) -> DirectoryResult:
    """Apply changes from one source to the tenant's directory, with everything they cause, in one transaction:

    - directory events for what changed (EmployeeChangeIgnored for a change older than the record);
    - every live enrolment of a changed person gets the new profile (ParticipantUpdated), so mails follow
      a new address and the matching reads the new department, grade or languages;
    - a leaver is withdrawn from every programme (pairs end with reason left_company);
    - a leave of absence pauses their active pairs; the return resumes those (when both are back);
    - a change a hard rule depends on (manager, languages, a new or returning employee, who may be a missing
      manager) re-checks the live pairs whose reporting line could have changed: PairFlagged, or the flag
      cleared.
    """
    tenant = uow.tenant
    revision = await repository.lock_directory(uow.conn, tenant)
    result = DirectoryResult()
    for renumber in (c for c in changes if isinstance(c, directory.Renumber)):
        revision = await _renumber(uow, renumber, revision, result, origin, effective_at, source_event_id)
    changes = [c for c in changes if not isinstance(c, directory.Renumber)]
    ids = [c.record.employee_id if isinstance(c, directory.Upsert) else c.employee_id for c in changes]
    before = await repository.employees_by_id(uow.conn, tenant, ids, for_update=True)
    after: dict[str, directory.Employee | None] = dict(before)
    for employee_id, change in zip(ids, changes, strict=True):
        events = directory.decide(
            after.get(employee_id),
            change,
            revision=revision,
            origin=origin,
            effective_at=effective_at,
            source_event_id=source_event_id,
        )
        for event in events:
            if not isinstance(event, EmployeeChangeIgnored):
                revision = event.revision
                after[employee_id] = directory.evolve(after.get(employee_id), event)
        uow.emit(*events)
        result.events.extend(events)
    changed = {i: e for i, e in after.items() if e is not None and e != before.get(i)}
    result.changed = sorted({*result.changed, *changed})
    result.revision = revision
    if changed:
        await repository.save_employees(uow.conn, tenant, list(changed.values()))
        await repository.set_directory_revision(uow.conn, tenant, revision)
        await _directory_consequences(uow, before, changed, result, since=effective_at)
    if commit:
        await uow.commit()
    return result


async def _renumber(
    uow: UnitOfWork,
    change: directory.Renumber,
    revision: int,
    result: DirectoryResult,
    origin: Origin,
    effective_at: datetime,
    source_event_id: str | None,
) -> int:
    """Move an employee to a new id: the record, whoever names them as manager (EmployeeUpdated each), and
    their enrolments (ParticipantUpdated). Returns the directory revision after it."""
    tenant, conn = uow.tenant, uow.conn
    found = await repository.employees_by_id(
        conn, tenant, [change.employee_id, change.new_employee_id], for_update=True
    )
    if change.new_employee_id in found and change.new_employee_id != change.employee_id:
        raise Conflict(f"employee id {change.new_employee_id} is already taken", field="employee_id", code="uniqueness")
    events = directory.decide(
        found.get(change.employee_id),
        change,
        revision=revision,
        origin=origin,
        effective_at=effective_at,
        source_event_id=source_event_id,
    )
    renumbered = [e for e in events if isinstance(e, EmployeeRenumbered)]
    uow.emit(*events)
    result.events.extend(events)
    if not renumbered:
        return revision
    revision = renumbered[0].revision
    await repository.renumber_employee(conn, tenant, change.employee_id, change.new_employee_id)
    reports = []
    for report in await repository.direct_reports(conn, tenant, change.employee_id):
        revision += 1
        moved = EmployeeUpdated(
            **{**report.record(), "manager_employee_id": change.new_employee_id},
            changed=["manager_employee_id"],
            revision=revision,
            origin=origin,
            effective_at=effective_at,
            source_event_id=source_event_id,
        )
        after = directory.evolve(report, moved)
        assert after is not None
        reports.append(after)
        uow.emit(moved)
        result.events.append(moved)
    await repository.save_employees(conn, tenant, reports)
    for enrolment in await repository.enrolments_of(conn, tenant, [change.employee_id]):
        updated = enrolment.renumbered(change.new_employee_id)
        await repository.update_participant(conn, tenant, participants.evolve(enrolment, updated))
        uow.emit(updated)
        result.participants_updated += 1
    await repository.set_directory_revision(conn, tenant, revision)
    result.changed.append(change.new_employee_id)
    # someone may have named the new id as a manager the directory did not have yet: their line changed
    await recheck_pairs(uow, [change.new_employee_id], since=effective_at, revision=revision, result=result)
    return revision


async def _directory_consequences(
    uow: UnitOfWork,
    before: dict[str, directory.Employee],
    changed: dict[str, directory.Employee],
    result: DirectoryResult,
    *,
    since: datetime,
) -> None:
    tenant, conn = uow.tenant, uow.conn
    for enrolment in await repository.enrolments_of(conn, tenant, changed):
        employee = changed[enrolment.employee_id]
        if employee.status == "left":
            await _withdraw(uow, enrolment, "left_company")
            result.withdrawn += 1
            continue
        refreshed = enrolment.refresh(_directory_profile(employee))
        if refreshed is not None:
            await repository.update_participant(conn, tenant, participants.evolve(enrolment, refreshed))
            uow.emit(refreshed)
            result.participants_updated += 1
    away = {
        i for i, e in changed.items() if e.status == "on_leave" and getattr(before.get(i), "status", None) != "on_leave"
    }
    back = {
        i for i, e in changed.items() if e.status == "active" and getattr(before.get(i), "status", None) == "on_leave"
    }
    if away or back:
        await _leave_of_absence(uow, away, back, result)
    rule_changed = [
        i
        for i, e in changed.items()
        if i not in before
        or before[i].status == "left"
        or directory.changed_fields(before[i], e) & directory.RULE_FIELDS
    ]
    if rule_changed:
        await recheck_pairs(uow, rule_changed, since=since, revision=result.revision, result=result)


def _directory_profile(employee: directory.Employee) -> dict[str, Any]:
    """The directory's fields for a live enrolment; what the directory lacks keeps the enrolment's value."""
    profile = {
        "display_name": employee.display_name,
        "email": employee.email,
        "locale": directory.supported_locale(employee.locale),
        "department": employee.department,
        "grade": employee.grade,
        "manager_employee_id": employee.manager_employee_id,
        "location": employee.location,
        "timezone": employee.timezone,
        "languages": list(employee.languages),
    }
    return {k: v for k, v in profile.items() if v not in (None, "", []) or k in ("manager_employee_id", "location")}


async def _leave_of_absence(uow: UnitOfWork, away: set[str], back: set[str], result: DirectoryResult) -> None:
    tenant, conn = uow.tenant, uow.conn
    live = await repository.live_pairs_of_employees(conn, tenant, away | back)
    people = await repository.participants_by_id(conn, tenant, [x for p in live for x in (p.mentor_id, p.mentee_id)])
    on_leave = {
        e.employee_id
        for e in (await repository.employees_by_id(conn, tenant, {p.employee_id for p in people.values()})).values()
        if e.status == "on_leave"
    }
    for pair in live:
        mentor, mentee = people[pair.mentor_id], people[pair.mentee_id]
        gone = [p for p in (mentor, mentee) if p.employee_id in on_leave]
        if gone:
            changes = pair.pause_for_leave(" and ".join(p.display_name for p in gone))
            result.paused += len(pairs.published(changes))
        else:
            changes = pair.resume_after_leave()
            result.resumed += len(pairs.published(changes))
        if changes:
            await repository.update_pair(conn, tenant, pairs.evolve_all(pair, changes))
            uow.emit(*pairs.published(changes))


async def recheck_pairs(
    uow: UnitOfWork,
    employee_ids: Iterable[str] | None,
    *,
    since: datetime,
    revision: int,
    result: DirectoryResult | None = None,
) -> DirectoryResult:
    """Check the directory-dependent hard rules on live pairs: those of everyone whose reporting line passes
    through `employee_ids` (a change there can only move those lines), or every live pair of the tenant
    when None. A pair that now breaks a rule is flagged (and paused, if its programme says so); a flagged
    pair whose conflict is gone is cleared."""
    tenant, conn = uow.tenant, uow.conn
    result = result or DirectoryResult(revision=revision)
    if employee_ids is None:
        live = await repository.live_pairs_in_tenant(conn, tenant)
    else:
        changed = set(employee_ids)
        levels = await repository.max_reporting_levels(conn, tenant)
        affected = changed | await repository.reports_within(conn, tenant, changed, levels)
        live = await repository.live_pairs_of_employees(conn, tenant, affected)
    if not live:
        return result
    people = await repository.participants_by_id(conn, tenant, [x for p in live for x in (p.mentor_id, p.mentee_id)])
    programme_of = await repository.programmes_by_id(conn, tenant, {p.programme_id for p in live})
    levels = max(p.reporting_line_levels for p in programme_of.values())
    chart = await repository.reporting_lines(conn, tenant, {p.employee_id for p in people.values()}, levels)
    changed: list[pairs.Pair] = []
    for pair in live:
        programme = programme_of[pair.programme_id]
        conflict = matching_adapter.conflict(programme, people[pair.mentor_id], people[pair.mentee_id], chart)
        if conflict is not None:
            flag = pairs.Flag(conflict.rule, conflict.detail, conflict.chain, since, revision, "left_running")
            changes = pair.flag_conflict(flag, pause=programme.pauses_flagged_pairs)
            result.flagged += 1 if changes else 0
        else:
            changes = pair.clear_flag()
            result.cleared += 1 if changes else 0
        if changes:
            changed.append(pairs.evolve_all(pair, changes))
            uow.emit(*pairs.published(changes))
    await repository.update_pairs(conn, tenant, changed)
    return result


async def resolve_flag(
    uow: UnitOfWork, pair_id: str, decision: Literal["keep", "end"], reason: str, resolved_by: str
) -> tuple[pairs.Pair, repository.MatchRunRow | None]:
    """HR decides on a flagged pair: keep it (the override is recorded), or end it and propose new partners."""
    pair = await repository.get_pair(uow.conn, uow.tenant, pair_id, for_update=True)
    changes = pair.resolve_flag(decision, reason, resolved_by, datetime.now(UTC))
    pair = pairs.evolve_all(pair, changes)
    await repository.update_pair(uow.conn, uow.tenant, pair)
    uow.emit(*pairs.published(changes))
    run = None
    if decision == "end":
        waiting = await _waiting_for_partner(uow, pair)
        if waiting:
            run = await _match_run(uow, pair.programme_id, only=[waiting[0].participant_id])
    await uow.commit()
    return pair, run


# --- pairs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatePair:
    programme_id: str
    mentor_id: str
    mentee_id: str
    pair_id: str | None = None
    started_on: date | None = None


def _check_started_on(started_on: date | None, programme: programmes.Programme) -> None:
    if started_on is None:
        return
    if not programme.starts_on <= started_on <= date.today():
        raise InvalidInput(
            f"started_on must lie between the programme's start ({programme.starts_on.isoformat()}) and today",
            field="started_on",
        )


async def create_pair(uow: UnitOfWork, cmd: CreatePair) -> pairs.Pair:
    """HR pairs two people by hand: both enrolled in the programme, in the right roles, hard rules hold
    (the reporting line read from the whole directory, as for a match run)."""

    tenant = uow.tenant
    programme = await repository.get_programme(uow.conn, tenant, cmd.programme_id, for_update=True)
    programme.require_pairing()
    _check_started_on(cmd.started_on, programme)
    mentor = await _member(uow, cmd.mentor_id, programme.programme_id, "mentor", "mentor_id")
    mentee = await _member(uow, cmd.mentee_id, programme.programme_id, "mentee", "mentee_id")
    if mentor.participant_id == mentee.participant_id:
        raise InvalidInput("a participant cannot mentor themselves", field="mentee_id")
    chart = await repository.reporting_lines(
        uow.conn, tenant, [mentor.employee_id, mentee.employee_id], programme.reporting_line_levels
    )
    verdict = matching_adapter.explain(programme, mentor, mentee, chart)
    if verdict.violations:
        raise Conflict(
            f"{mentor.display_name} and {mentee.display_name} cannot be paired: {'; '.join(verdict.violations)}",
            field="mentee_id",
            code="hard_rule",
        )
    await _check_capacity(uow, mentor)
    mentee.check_unpaired(await _live_pairs(uow, mentee))
    changes = pairs.create_pair(
        cmd.pair_id or new_id(),
        programme.programme_id,
        mentor.participant_id,
        mentee.participant_id,
        score=verdict.score,
        rationale=verdict.rationale,
        reasons=verdict.reasons,
        origin="manual",
        warnings=tuple(verdict.warnings),
        started_on=cmd.started_on,
    )
    pair = pairs.evolve_all(None, changes)
    try:
        await repository.insert_pair(uow.conn, tenant, pair)
    except asyncpg.UniqueViolationError:
        raise Conflict(
            f"{mentor.display_name} and {mentee.display_name} already form a live pair",
            field="mentee_id",
            code="duplicate_pair",
        ) from None
    for event in pairs.published(changes):
        if isinstance(event, PairCreated):
            programme = programmes.evolve(programme, event)
    await repository.set_programme_state(uow.conn, tenant, programme)
    uow.emit(*pairs.published(changes))
    await uow.commit()
    return pair


async def _member(
    uow: UnitOfWork, participant_id: str, programme_id: str, role: str, field: str
) -> participants.Participant:
    try:
        p = await repository.get_participant(uow.conn, uow.tenant, participant_id, for_update=True)
    except NotFound as exc:
        raise InvalidInput(f"no participant {participant_id}", field=field) from exc
    if p.programme_id != programme_id:
        raise InvalidInput(f"{participant_id} is not enrolled in programme {programme_id}", field=field)
    if p.role != role:
        raise InvalidInput(f"{p.display_name} is a {p.role}, not a {role}", field=field)
    if p.status != "enrolled":
        raise Conflict(f"{p.display_name} has withdrawn", field=field, code="withdrawn")
    return p


async def _live_pairs(uow: UnitOfWork, participant: participants.Participant) -> int:
    """How many live pairs the participant is in (locked: the count holds until the commit)."""
    return len(await repository.live_pairs_of(uow.conn, uow.tenant, participant.participant_id, for_update=True))


async def _check_capacity(uow: UnitOfWork, mentor: participants.Participant) -> None:
    mentor.check_capacity(await _live_pairs(uow, mentor))


async def _change_pair(
    uow: UnitOfWork, pair_id: str, decide: Callable[[pairs.Pair], Sequence[pairs.PairChange]]
) -> pairs.Pair:
    """Lock the pair, decide one command, evolve the pair by what it decided, save it and emit its events."""
    pair = await repository.get_pair(uow.conn, uow.tenant, pair_id, for_update=True)
    changes = decide(pair)
    pair = pairs.evolve_all(pair, changes)
    await repository.update_pair(uow.conn, uow.tenant, pair)
    uow.emit(*pairs.published(changes))
    await uow.commit()
    return pair


async def pause_pair(uow: UnitOfWork, pair_id: str, reason: str = "") -> pairs.Pair:
    return await _change_pair(uow, pair_id, lambda p: [p.pause(reason)])


async def resume_pair(uow: UnitOfWork, pair_id: str) -> pairs.Pair:
    return await _change_pair(uow, pair_id, lambda p: [p.resume()])


async def end_pair(uow: UnitOfWork, pair_id: str, reason: PairEndReason, note: str = "") -> pairs.Pair:
    return await _change_pair(uow, pair_id, lambda p: [p.end(reason, note)])


async def extend_pair(uow: UnitOfWork, pair_id: str, until: date) -> pairs.Pair:
    pair = await repository.get_pair(uow.conn, uow.tenant, pair_id)
    ends_on = (await repository.get_programme(uow.conn, uow.tenant, pair.programme_id)).ends_on
    return await _change_pair(uow, pair_id, lambda p: [p.extend(until, ends_on)])


async def answer_proposal(uow: UnitOfWork, pair_id: str, participant_id: str, accept: bool) -> pairs.Pair:
    now = datetime.now(UTC)
    return await _change_pair(uow, pair_id, lambda p: p.consent(participant_id, accept, now))


def consent_deadline(programme: programmes.Programme, now: datetime) -> datetime:
    return now + timedelta(days=programme.consent_days)


# --- match runs ------------------------------------------------------------------------------------


async def start_match_run(
    uow: UnitOfWork,
    programme_id: str,
    *,
    objective: str | None = None,
    only: list[str] | None = None,
    policy: Mapping[str, Any] | None = None,
) -> repository.MatchRunRow:
    """Match everyone enrolled and still free (or only `only`, for a rematch); publish MatchRunCompleted. `policy`
    replaces fields of the programme's matching policy for this run only (the weights one by one); the run and
    its event record the whole policy it ran under."""
    if objective is not None and policy and policy.get("objective", objective) != objective:
        raise InvalidInput(
            f"policy.objective: {policy['objective']!r} differs from objective {objective!r}: give the objective once",
            field="policy.objective",
        )
    run = await _match_run(uow, programme_id, objective=objective, only=only, policy=policy)
    await uow.commit()
    return run


#: The time a match run takes, from reading who waits to the run recorded (shared.metrics; see app.SPEC).
MATCH_RUN_DURATION = "tandem_match_run_duration_seconds"


async def _match_run(
    uow: UnitOfWork,
    programme_id: str,
    *,
    objective: str | None = None,
    only: list[str] | None = None,
    policy: Mapping[str, Any] | None = None,
) -> repository.MatchRunRow:
    with timed(MATCH_RUN_DURATION):
        return await _run_matching(uow, programme_id, objective=objective, only=only, policy=policy)


async def _run_matching(
    uow: UnitOfWork,
    programme_id: str,
    *,
    objective: str | None = None,
    only: list[str] | None = None,
    policy: Mapping[str, Any] | None = None,
) -> repository.MatchRunRow:
    """Lapsed consent proposals are declined first, which frees both people; open proposals of earlier
    runs are superseded by this one. The run records the directory revision and the reporting lines it read."""
    tenant, conn = uow.tenant, uow.conn
    now = datetime.now(UTC)
    programme = await repository.get_programme(conn, tenant, programme_id, for_update=True)
    programme.require_matching()
    run_policy = matching_adapter.policy(programme.matching_policy, objective=objective, override=policy)
    for stale in await repository.expired_proposals(conn, tenant, programme_id):
        lapsed = stale.expire(now)
        if lapsed is not None:
            await repository.update_pair(conn, tenant, pairs.evolve_all(stale, [lapsed]))
            uow.emit(lapsed)
    load = await repository.live_load(conn, tenant, programme_id)
    enrolled, _ = await repository.list_participants(conn, tenant, programme_id)
    mentors = [p for p in enrolled if p.role == "mentor"]
    mentees = [p for p in enrolled if p.role == "mentee" and not load.get(p.participant_id)]
    if only is not None:
        wanted = set(only)
        if any(p.role == "mentee" for p in enrolled if p.participant_id in wanted):
            mentees = [p for p in mentees if p.participant_id in wanted]
        else:  # rematching a mentor: all free mentees may be proposed, only to this mentor
            mentors = [p for p in mentors if p.participant_id in wanted]
    if not mentors and not mentees:
        raise Conflict(
            f"nobody in programme {programme_id} is waiting for a match", field="programme_id", code="nothing_to_match"
        )
    revision = await repository.directory_revision(conn, tenant)
    chart = await repository.reporting_lines(
        conn, tenant, [p.employee_id for p in mentors + mentees], run_policy.reporting_line_levels
    )
    result = matching_adapter.run(
        programme,
        mentors,
        mentees,
        chart,
        used_capacity={p.participant_id: load.get(p.participant_id, 0) for p in mentors},
        run_policy=run_policy,
    )
    await repository.supersede_open_proposals(conn, tenant, programme_id)
    run_id = new_id()
    proposals = [
        repository.ProposalRow(
            proposal_id=new_id(),
            match_run_id=run_id,
            programme_id=programme_id,
            mentor_id=p.mentor_id,
            mentee_id=p.mentee_id,
            score=p.score,
            components=p.components,
            rationale=p.rationale,
            forced=p.forced,
            status="open",
            reasons=p.reasons,
            pair_id=None,
        )
        for p in result.proposals
    ]
    run = repository.MatchRunRow(
        match_run_id=run_id,
        programme_id=programme_id,
        kind="full" if only is None else "rematch",
        algorithm_version=result.algorithm_version,
        objective=result.objective,
        policy=result.policy,
        unmatched=[vars(u) for u in result.unmatched],
        conflicts=result.conflicts,
        total_score=result.total_score,
        created_at=now,
        proposals=proposals,
        directory_revision=revision,
        org_chart_hash=repository.chart_hash(chart),
    )
    await repository.insert_match_run(conn, tenant, run)
    completed = MatchRunCompleted(
        match_run_id=run_id,
        programme_id=programme_id,
        algorithm_version=result.algorithm_version,
        objective=result.objective,
        policy=result.policy,
        proposals=[
            EventProposal(
                proposal_id=p.proposal_id,
                mentor_id=p.mentor_id,
                mentee_id=p.mentee_id,
                score=p.score,
                components=p.components,
                rationale=p.rationale,
                forced=p.forced,
                reasons=[EventReason.model_validate(r) for r in p.reasons],
            )
            for p in proposals
        ],
        unmatched=[EventUnmatched(**vars(u)) for u in result.unmatched],
        total_score=result.total_score,
        directory_revision=run.directory_revision,
        org_chart_hash=run.org_chart_hash,
    )
    await repository.set_programme_state(conn, tenant, programmes.evolve(programme, completed))
    uow.emit(completed)
    return run


async def accept_proposals(
    uow: UnitOfWork, match_run_id: str, proposal_ids: list[str] | None, *, started_on: date | None = None
) -> list[pairs.Pair]:
    """HR accepts all (None) or some proposals of a run: each becomes a pair, or a proposal awaiting
    both people's consent when the programme asks for it. All or nothing."""
    tenant = uow.tenant
    run = await repository.get_match_run(uow.conn, tenant, match_run_id, for_update=True)
    programme = await repository.get_programme(uow.conn, tenant, run.programme_id, for_update=True)
    _check_started_on(started_on, programme)
    by_id = {p.proposal_id: p for p in run.proposals}
    if proposal_ids is None:
        chosen = [p for p in run.proposals if p.status == "open"]
    else:
        unknown = [pid for pid in proposal_ids if pid not in by_id]
        if unknown:
            raise InvalidInput(f"proposal {unknown[0]} is not part of match run {match_run_id}", field="proposal_ids")
        chosen = [by_id[pid] for pid in dict.fromkeys(proposal_ids)]
    if not chosen:
        raise Conflict(f"match run {match_run_id} has no open proposals", field="proposal_ids", code="nothing_open")
    closed = [p for p in chosen if p.status != "open"]
    if closed:
        raise Conflict(
            f"proposal {closed[0].proposal_id} is {closed[0].status}", field="proposal_ids", code="proposal_closed"
        )
    now = datetime.now(UTC)
    created = []
    made: list[PairCreated | PairProposed] = []
    for proposal in chosen:
        mentor = await _member(uow, proposal.mentor_id, programme.programme_id, "mentor", "proposal_ids")
        mentee = await _member(uow, proposal.mentee_id, programme.programme_id, "mentee", "proposal_ids")
        await _check_capacity(uow, mentor)
        mentee.check_unpaired(await _live_pairs(uow, mentee), "proposal_ids", since="this run")
        origin: pairs.Origin = "rematch" if run.kind == "rematch" else "match_run"
        pair_id = new_id()
        if programme.requires_consent:
            changes = pairs.propose_pair(
                pair_id,
                programme.programme_id,
                mentor.participant_id,
                mentee.participant_id,
                consent_deadline=consent_deadline(programme, now),
                score=proposal.score,
                rationale=proposal.rationale,
                reasons=proposal.reasons,
                origin=origin,
                match_run_id=match_run_id,
            )
        else:
            changes = pairs.create_pair(
                pair_id,
                programme.programme_id,
                mentor.participant_id,
                mentee.participant_id,
                score=proposal.score,
                rationale=proposal.rationale,
                reasons=proposal.reasons,
                origin=origin,
                match_run_id=match_run_id,
                started_on=started_on,
            )
        pair = pairs.evolve_all(None, changes)
        uow.emit(*pairs.published(changes))
        made.extend(e for e in pairs.published(changes) if isinstance(e, PairCreated | PairProposed))
        await repository.insert_pair(uow.conn, tenant, pair)
        await repository.mark_proposal_accepted(uow.conn, tenant, proposal.proposal_id, pair_id)
        created.append(pair)
    programme.require_pairing()
    for made_event in made:
        programme = programmes.evolve(programme, made_event)
    await repository.set_programme_state(uow.conn, tenant, programme)
    await uow.commit()
    return created


async def rematch(uow: UnitOfWork, pair_id: str) -> repository.MatchRunRow:
    """After a pair ended, propose a new partner for whoever of the two is still enrolled."""
    pair = await repository.get_pair(uow.conn, uow.tenant, pair_id)
    if pair.state not in ("ended", "declined"):
        raise Conflict(
            f"pair {pair_id} is {pair.state}: end it first (reason 'rematched')", field="pair_id", code="pair_live"
        )
    remaining = await _waiting_for_partner(uow, pair)
    if not remaining:
        raise Conflict(
            f"nobody from pair {pair_id} is waiting for a new partner", field="pair_id", code="nothing_to_match"
        )
    # one run per remaining person would publish two events; the mentee (the senior) goes first
    return await start_match_run(uow, pair.programme_id, only=[remaining[0].participant_id])


async def _waiting_for_partner(uow: UnitOfWork, pair: pairs.Pair) -> list[participants.Participant]:
    """Who of a finished pair is still enrolled and has no live pair: the mentee first."""
    remaining = []
    for participant_id in (pair.mentee_id, pair.mentor_id):
        p = await repository.get_participant(uow.conn, uow.tenant, participant_id)
        if p.status == "enrolled" and not await repository.live_pairs_of(uow.conn, uow.tenant, participant_id):
            remaining.append(p)
    return remaining


# --- erasure and retention (personal data) ---------------------------------------------------------


async def erase_subject(
    uow: UnitOfWork, employee_id: str, *, reason: str, requested_by: str
) -> erasure_repository.Erasure:
    """Erase a person (GDPR art. 17), in one unit of work: their names, addresses and free text in pairing's tables
    become the placeholder, their data keys and those of their enrolments and pairs are destroyed (replays and
    audits then read the placeholder), the erasure is recorded (who, when, why) and `SubjectErased` tells the
    other services to do the same with their copies. Ids, statuses, dates, counts and scores stay. 404 for an
    employee the tenant does not have; 409, changing nothing, for one erased already."""
    reason = reason.strip()
    if not reason or len(reason) > 200:
        raise InvalidInput("reason: between 1 and 200 characters", field="reason")
    conn, tenant = uow.conn, uow.tenant
    person = await erasure_repository.lock_employee(conn, tenant, employee_id)
    if person is None:
        raise NotFound(f"no employee {employee_id}", field="employee_id")
    done = await erasure_repository.erasure_of(conn, tenant, employee_id)
    if done is not None:
        raise Conflict(
            f"employee {employee_id} was erased on {done.erased_at.isoformat()} ({done.reason})",
            field="employee_id",
            code="erased",
        )
    scope = await erasure_repository.subject_scope(conn, tenant, employee_id)
    participant_ids, pair_ids = scope.participant_ids, scope.pair_ids
    await erasure_repository.scrub_subject(conn, tenant, employee_id, participant_ids, pair_ids)
    await erasure.scrub_dead_letters(conn, [*scope.quoted, *person.values()])
    await erasure.destroy_keys(
        conn,
        uow.topics,
        service="pairing",
        tenant=tenant,
        reason=reason,
        scope_ids={employee_id, *participant_ids, *pair_ids, *scope.proposal_ids},
    )
    erased_at = await erasure_repository.record_erasure(
        conn,
        tenant,
        employee_id,
        reason=reason,
        requested_by=requested_by,
        participant_ids=participant_ids,
        pair_ids=pair_ids,
    )
    uow.emit(
        SubjectErased(
            employee_id=employee_id,
            participant_ids=participant_ids,
            pair_ids=pair_ids,
            reason=reason,
            requested_by=requested_by,
        )
    )
    await uow.commit()
    return erasure_repository.Erasure(employee_id, reason, requested_by, participant_ids, pair_ids, erased_at)


#: The range of a tenant's retention of free text, in months.
FREE_TEXT_MONTHS = (1, 120)


async def set_retention(uow: UnitOfWork, free_text_months: int, *, set_by: str) -> erasure_repository.Policy:
    """Set the tenant's retention policy: free text of a programme is deleted `free_text_months` months after it
    closed (the retention job does it). Recorded as `RetentionPolicySet`."""
    low, high = FREE_TEXT_MONTHS
    whole = isinstance(free_text_months, int) and not isinstance(free_text_months, bool)
    if not whole or not low <= free_text_months <= high:
        raise InvalidInput(
            f"free_text_months: a whole number of months from {low} to {high}, not {free_text_months!r}",
            field="free_text_months",
        )
    policy = await erasure_repository.set_policy(uow.conn, uow.tenant, free_text_months, set_by)
    uow.emit(RetentionPolicySet(free_text_months=free_text_months, set_by=set_by))
    await uow.commit()
    return policy


async def expire_free_text(uow: UnitOfWork, now: datetime) -> list[str]:
    """The retention job's step for the unit of work's tenant, as of `now`: every programme closed longer ago than
    the tenant's policy allows whose free text has not expired yet gets its 'text' keys destroyed, its free text in
    pairing's tables scrubbed and `FreeTextExpired` published (the other services scrub theirs). Numbers and
    ratings stay. Returns the programme ids expired; none without a policy."""
    conn, tenant = uow.conn, uow.tenant
    policy = await erasure_repository.get_policy(conn, tenant)
    if policy is None:
        return []
    expired = []
    for programme_id, closed_on in await erasure_repository.programmes_past_retention(
        conn, tenant, now, policy.free_text_months
    ):
        await erasure_repository.scrub_programme_text(conn, tenant, programme_id, now)
        await erasure.destroy_keys(
            conn,
            uow.topics,
            service="pairing",
            tenant=tenant,
            reason="retention",
            programme_id=programme_id,
            kinds=("text",),
        )
        pair_ids = await erasure_repository.pair_ids_of_programme(conn, tenant, programme_id)
        uow.emit(
            FreeTextExpired(
                programme_id=programme_id,
                closed_on=closed_on,
                free_text_months=policy.free_text_months,
                pair_ids=pair_ids,
            )
        )
        expired.append(programme_id)
    await uow.commit()
    return expired
