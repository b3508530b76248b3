"""Command handlers: plain functions, one unit of work each; state and events commit together.

Every handler loads what it changes with FOR UPDATE before writing, so that two commands on one
aggregate serialise and their events reach the outbox (and Kafka) in the order they happened.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from pydantic import ValidationError

from services.pairing import matching_adapter, repository
from services.pairing.domain import pairs, participants, programmes
from shared.errors import Conflict, InvalidInput
from shared.events.base import EventPayload
from shared.events.common import PairEndReason
from shared.events.pairing import MatchRunCompleted
from shared.events.pairing import Proposal as EventProposal
from shared.events.pairing import Unmatched as EventUnmatched
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


async def create_programme(uow: UnitOfWork, cmd: CreateProgramme) -> programmes.Programme:
    matching_adapter.policy(cmd.matching_policy)  # refuse a policy the engine cannot run, now
    programme = programmes.new_programme(
        cmd.programme_id or new_id(), cmd.name, cmd.starts_on, cmd.ends_on, cmd.cadence_days, cmd.focus_topics,
        matching_policy=cmd.matching_policy, requires_consent=cmd.requires_consent, consent_days=cmd.consent_days,
        hr_contact_email=cmd.hr_contact_email,
    )  # fmt: skip
    if cmd.launch:
        programme, launched = programme.launch()
        uow.emit(launched)
    try:
        await repository.insert_programme(uow.conn, programme, uow.tenant)
    except asyncpg.UniqueViolationError:
        raise Conflict(f"programme {programme.programme_id} exists", field="programme_id", code="exists") from None
    await uow.commit()
    return programme


async def launch_programme(uow: UnitOfWork, programme_id: str) -> programmes.Programme:
    programme, event = (await repository.get_programme(uow.conn, programme_id, for_update=True)).launch()
    await repository.set_programme_state(uow.conn, programme)
    uow.emit(event)
    await uow.commit()
    return programme


async def close_programme(uow: UnitOfWork, programme_id: str) -> programmes.Programme:
    programme, event = (await repository.get_programme(uow.conn, programme_id, for_update=True)).close()
    await repository.set_programme_state(uow.conn, programme)
    uow.emit(event)
    await uow.commit()
    return programme


# --- participants ----------------------------------------------------------------------------------


async def enrol_participants(
    uow: UnitOfWork, programme_id: str, rows: list[dict[str, Any]], *, row_label: str = "row"
) -> list[participants.Participant]:
    """Enrol one or many; all or nothing. Errors name the row (1-based) and the field."""
    programme = await repository.get_programme(uow.conn, programme_id, for_update=True)
    programme.require_enrolment_open()
    enrolled: list[participants.Participant] = []
    errors: list[dict[str, str | int | None]] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        data = {**row, "programme_id": programme_id, "participant_id": row.get("participant_id") or new_id()}
        prefix = f"{row_label} {number}: " if len(rows) > 1 or row_label != "row" else ""
        try:
            participant, event = participants.enrol(data)
        except ValidationError as exc:
            for d in invalid(exc).details:
                errors.append({**d, "row": number, "message": f"{prefix}{d['field']}: {d['message']}"})
            continue
        except InvalidInput as exc:
            errors.append({"row": number, "field": exc.field, "message": f"{prefix}{exc.message}"})
            continue
        if participant.employee_id in seen:
            errors.append(
                {
                    "row": number,
                    "field": "employee_id",
                    "message": f"{prefix}employee {participant.employee_id} appears twice",
                }
            )
            continue
        unknown_topics = (set(event.teach_topics) | set(event.learn_topics)) - set(programme.focus_topics)
        if unknown_topics:
            field = "teach_topics" if event.role == "mentor" else "learn_topics"
            errors.append(
                {
                    "row": number,
                    "field": field,
                    "message": f"{prefix}{', '.join(sorted(unknown_topics))} "
                    f"not among the programme's focus topics ({', '.join(programme.focus_topics)})",
                }
            )
            continue
        seen.add(participant.employee_id)
        enrolled.append(participant)
        uow.emit(event)
    if errors:
        first = errors[0]
        raise InvalidInput(str(first["message"]), field=str(first["field"]), details=errors)
    try:
        await repository.insert_participants(uow.conn, enrolled, uow.tenant)
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(
            f"an employee in this request is already enrolled in programme {programme_id} ({exc.detail})",
            field="employee_id",
            code="already_enrolled",
        ) from None
    await uow.commit()
    return enrolled


async def update_participant(uow: UnitOfWork, participant_id: str, changes: dict[str, Any]) -> participants.Participant:
    current = await repository.get_participant(uow.conn, participant_id, for_update=True)
    try:
        participant, event = current.update(changes)
    except ValidationError as exc:
        raise invalid(exc) from None
    await repository.update_participant(uow.conn, participant)
    uow.emit(event)
    await uow.commit()
    return participant


async def withdraw_participant(
    uow: UnitOfWork, participant_id: str, reason: participants.WithdrawReason = "withdrawn"
) -> tuple[participants.Participant, list[pairs.Pair]]:
    """Withdraw and, in the same transaction, end their live pairs (reason withdrawn or left_company)."""
    participant, event = (await repository.get_participant(uow.conn, participant_id, for_update=True)).withdraw(reason)
    await repository.update_participant(uow.conn, participant)
    uow.emit(event)
    end_reason: PairEndReason = "left_company" if reason == "left_company" else "withdrawn"
    ended = []
    for pair in await repository.live_pairs_of(uow.conn, participant_id, for_update=True):
        if pair.state == "proposed":
            after, declined = pair.decline(participant_id, reason=f"{participant.display_name} withdrew")
            await repository.update_pair(uow.conn, after)
            uow.emit(declined)
            ended.append(after)
            continue
        after, ended_event = pair.end(end_reason, note=f"{participant.display_name} withdrew from the programme")
        await repository.update_pair(uow.conn, after)
        uow.emit(ended_event)
        ended.append(after)
    await uow.commit()
    return participant, ended


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
    """HR pairs two people by hand: both enrolled in the programme, in the right roles, hard rules hold."""

    programme = await repository.get_programme(uow.conn, cmd.programme_id, for_update=True)
    programme = programme.begin_running()
    _check_started_on(cmd.started_on, programme)
    mentor = await _member(uow, cmd.mentor_id, programme.programme_id, "mentor", "mentor_id")
    mentee = await _member(uow, cmd.mentee_id, programme.programme_id, "mentee", "mentee_id")
    if mentor.participant_id == mentee.participant_id:
        raise InvalidInput("a participant cannot mentor themselves", field="mentee_id")
    verdict = matching_adapter.explain(programme, mentor, mentee, await repository.org_chart(uow.conn))
    if verdict.violations:
        raise Conflict(
            f"{mentor.display_name} and {mentee.display_name} cannot be paired: {'; '.join(verdict.violations)}",
            field="mentee_id",
            code="hard_rule",
        )
    await _check_capacity(uow, mentor)
    if await repository.live_pairs_of(uow.conn, mentee.participant_id, for_update=True):
        raise Conflict(f"{mentee.display_name} already has a live pair", field="mentee_id", code="already_paired")
    pair, event = pairs.create_pair(
        cmd.pair_id or new_id(), programme.programme_id, mentor.participant_id, mentee.participant_id,
        score=verdict.score, rationale=verdict.rationale, origin="manual", warnings=tuple(verdict.warnings),
        started_on=cmd.started_on,
    )  # fmt: skip
    try:
        await repository.insert_pair(uow.conn, pair, uow.tenant)
    except asyncpg.UniqueViolationError:
        raise Conflict(
            f"{mentor.display_name} and {mentee.display_name} already form a live pair",
            field="mentee_id",
            code="duplicate_pair",
        ) from None
    await repository.set_programme_state(uow.conn, programme)
    uow.emit(event)
    await uow.commit()
    return pair


async def _member(
    uow: UnitOfWork, participant_id: str, programme_id: str, role: str, field: str
) -> participants.Participant:
    try:
        p = await repository.get_participant(uow.conn, participant_id, for_update=True)
    except Exception as exc:
        raise InvalidInput(f"no participant {participant_id}", field=field) from exc
    if p.programme_id != programme_id:
        raise InvalidInput(f"{participant_id} is not enrolled in programme {programme_id}", field=field)
    if p.role != role:
        raise InvalidInput(f"{p.display_name} is a {p.role}, not a {role}", field=field)
    if p.status != "enrolled":
        raise Conflict(f"{p.display_name} has withdrawn", field=field, code="withdrawn")
    return p


async def _check_capacity(uow: UnitOfWork, mentor: participants.Participant) -> None:
    live = await repository.live_pairs_of(uow.conn, mentor.participant_id, for_update=True)
    capacity = int(mentor.profile.get("capacity", 1))
    if len(live) >= capacity:
        raise Conflict(
            f"{mentor.display_name} already mentors {len(live)} of {capacity} possible mentee(s)",
            field="mentor_id",
            code="capacity_exhausted",
        )


async def _change_pair(
    uow: UnitOfWork, pair_id: str, change: Callable[[pairs.Pair], tuple[pairs.Pair, Sequence[EventPayload]]]
) -> pairs.Pair:
    """Lock the pair, apply one state change, save it and its events in the unit of work."""
    pair, events = change(await repository.get_pair(uow.conn, pair_id, for_update=True))
    await repository.update_pair(uow.conn, pair)
    uow.emit(*events)
    await uow.commit()
    return pair


async def pause_pair(uow: UnitOfWork, pair_id: str, reason: str = "") -> pairs.Pair:
    return await _change_pair(uow, pair_id, lambda p: _one(p.pause(reason)))


async def resume_pair(uow: UnitOfWork, pair_id: str) -> pairs.Pair:
    return await _change_pair(uow, pair_id, lambda p: _one(p.resume()))


async def end_pair(uow: UnitOfWork, pair_id: str, reason: PairEndReason, note: str = "") -> pairs.Pair:
    return await _change_pair(uow, pair_id, lambda p: _one(p.end(reason, note)))


async def extend_pair(uow: UnitOfWork, pair_id: str, until: date) -> pairs.Pair:
    pair = await repository.get_pair(uow.conn, pair_id)
    ends_on = (await repository.get_programme(uow.conn, pair.programme_id)).ends_on
    return await _change_pair(uow, pair_id, lambda p: _one(p.extend(until, ends_on)))


async def answer_proposal(uow: UnitOfWork, pair_id: str, participant_id: str, accept: bool) -> pairs.Pair:
    now = datetime.now(UTC)
    return await _change_pair(uow, pair_id, lambda p: p.consent(participant_id, accept, now))


def _one(result: tuple[pairs.Pair, EventPayload]) -> tuple[pairs.Pair, Sequence[EventPayload]]:
    return result[0], [result[1]]


def consent_deadline(programme: programmes.Programme, now: datetime) -> datetime:
    return now + timedelta(days=programme.consent_days)


# --- match runs ------------------------------------------------------------------------------------


async def start_match_run(
    uow: UnitOfWork, programme_id: str, *, objective: str | None = None, only: list[str] | None = None
) -> repository.MatchRunRow:
    """Match everyone enrolled and still free (or only `only`, for a rematch); publish MatchRunCompleted.

    Lapsed consent proposals are declined first, which frees both people; open proposals of earlier
    runs are superseded by this one.
    """
    now = datetime.now(UTC)
    programme = (await repository.get_programme(uow.conn, programme_id, for_update=True)).begin_matching()
    for stale in await repository.expired_proposals(uow.conn, programme_id):
        lapsed = stale.expire(now)
        if lapsed is not None:
            await repository.update_pair(uow.conn, lapsed[0])
            uow.emit(lapsed[1])
    load = await repository.live_load(uow.conn, programme_id)
    enrolled, _ = await repository.list_participants(uow.conn, programme_id)
    mentors = [p for p in enrolled if p.role == "mentor"]
    mentees = [p for p in enrolled if p.role == "mentee" and not load.get(p.participant_id)]
    if only is not None:
        wanted = set(only)
        if any(p.role == "mentee" for p in enrolled if p.participant_id in wanted):
            mentees = [p for p in mentees if p.participant_id in wanted]
        else:  # rematching a mentor: all free mentees may be proposed, only to this mentor
            mentors = [p for p in mentors if p.participant_id in wanted]
    if not mentors and not mentees:
        raise Conflict(f"nobody in programme {programme_id} is waiting for a match", field="programme_id",
                       code="nothing_to_match")  # fmt: skip
    result = matching_adapter.run(
        programme, mentors, mentees, await repository.org_chart(uow.conn),
        used_capacity={p.participant_id: load.get(p.participant_id, 0) for p in mentors}, objective=objective,
    )  # fmt: skip
    await repository.supersede_open_proposals(uow.conn, programme_id)
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
            pair_id=None,
        )
        for p in result.proposals
    ]
    run = repository.MatchRunRow(
        match_run_id=run_id, programme_id=programme_id, kind="full" if only is None else "rematch",
        algorithm_version=result.algorithm_version, objective=result.objective, policy=result.policy,
        unmatched=[vars(u) for u in result.unmatched], conflicts=result.conflicts, total_score=result.total_score,
        created_at=now, proposals=proposals,
    )  # fmt: skip
    await repository.insert_match_run(uow.conn, run)
    await repository.set_programme_state(uow.conn, programme)
    uow.emit(
        MatchRunCompleted(
            match_run_id=run_id, programme_id=programme_id, algorithm_version=result.algorithm_version,
            objective=result.objective, policy=result.policy,
            proposals=[EventProposal(proposal_id=p.proposal_id, mentor_id=p.mentor_id, mentee_id=p.mentee_id,
                                     score=p.score, components=p.components, rationale=p.rationale, forced=p.forced)
                       for p in proposals],
            unmatched=[EventUnmatched(**vars(u)) for u in result.unmatched], total_score=result.total_score,
        )
    )  # fmt: skip
    await uow.commit()
    return run


async def accept_proposals(
    uow: UnitOfWork, match_run_id: str, proposal_ids: list[str] | None, *, started_on: date | None = None
) -> list[pairs.Pair]:
    """HR accepts all (None) or some proposals of a run: each becomes a pair, or a proposal awaiting
    both people's consent when the programme asks for it. All or nothing."""
    run = await repository.get_match_run(uow.conn, match_run_id, for_update=True)
    programme = await repository.get_programme(uow.conn, run.programme_id, for_update=True)
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
    for proposal in chosen:
        mentor = await _member(uow, proposal.mentor_id, programme.programme_id, "mentor", "proposal_ids")
        mentee = await _member(uow, proposal.mentee_id, programme.programme_id, "mentee", "proposal_ids")
        await _check_capacity(uow, mentor)
        if await repository.live_pairs_of(uow.conn, mentee.participant_id, for_update=True):
            raise Conflict(f"{mentee.display_name} was paired since this run", field="proposal_ids",
                           code="already_paired")  # fmt: skip
        origin: pairs.Origin = "rematch" if run.kind == "rematch" else "match_run"
        pair_id = new_id()
        if programme.requires_consent:
            pair, event = pairs.propose_pair(
                pair_id, programme.programme_id, mentor.participant_id, mentee.participant_id,
                consent_deadline=consent_deadline(programme, now), score=proposal.score,
                rationale=proposal.rationale, origin=origin, match_run_id=match_run_id,
            )  # fmt: skip
            uow.emit(event)
        else:
            pair, created_event = pairs.create_pair(
                pair_id, programme.programme_id, mentor.participant_id, mentee.participant_id,
                score=proposal.score, rationale=proposal.rationale, origin=origin, match_run_id=match_run_id,
                started_on=started_on,
            )  # fmt: skip
            uow.emit(created_event)
        await repository.insert_pair(uow.conn, pair, uow.tenant)
        await repository.mark_proposal_accepted(uow.conn, proposal.proposal_id, pair_id)
        created.append(pair)
    programme = programme.begin_running()
    await repository.set_programme_state(uow.conn, programme)
    await uow.commit()
    return created


async def rematch(uow: UnitOfWork, pair_id: str) -> repository.MatchRunRow:
    """After a pair ended, propose a new partner for whoever of the two is still enrolled."""
    pair = await repository.get_pair(uow.conn, pair_id)
    if pair.state not in ("ended", "declined"):
        raise Conflict(f"pair {pair_id} is {pair.state}: end it first (reason 'rematched')", field="pair_id",
                       code="pair_live")  # fmt: skip
    remaining = []
    for participant_id in (pair.mentee_id, pair.mentor_id):
        p = await repository.get_participant(uow.conn, participant_id)
        if p.status == "enrolled" and not await repository.live_pairs_of(uow.conn, participant_id):
            remaining.append(p)
    if not remaining:
        raise Conflict(f"nobody from pair {pair_id} is waiting for a new partner", field="pair_id",
                       code="nothing_to_match")  # fmt: skip
    # one run per remaining person would publish two events; the mentee (the senior) goes first
    return await start_match_run(uow, pair.programme_id, only=[remaining[0].participant_id])
