"""Loading and saving the pairing service's aggregates. All SQL of the write model lives here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.pairing.domain.pairs import Pair
from services.pairing.domain.participants import Participant
from services.pairing.domain.programmes import Programme
from shared.db import Conn
from shared.errors import NotFound

# --- programmes ------------------------------------------------------------------------------------

_PROGRAMME = (
    "programme_id, name, starts_on, ends_on, cadence_days, focus_topics, matching_policy, requires_consent, "
    "consent_days, hr_contact_email, state"
)


def _programme(row: Any) -> Programme:
    data = dict(row)
    data["focus_topics"] = tuple(data["focus_topics"])
    return Programme(**data)


async def get_programme(conn: Conn, programme_id: str, *, for_update: bool = False) -> Programme:
    sql = f"SELECT {_PROGRAMME} FROM programmes WHERE programme_id = $1" + (" FOR UPDATE" if for_update else "")
    row = await conn.fetchrow(sql, programme_id)
    if row is None:
        raise NotFound(f"no programme {programme_id}", field="programme_id")
    return _programme(row)


async def insert_programme(conn: Conn, p: Programme, tenant: str) -> None:
    await conn.execute(
        f"INSERT INTO programmes ({_PROGRAMME}, tenant) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        p.programme_id, p.name, p.starts_on, p.ends_on, p.cadence_days, list(p.focus_topics), p.matching_policy,
        p.requires_consent, p.consent_days, p.hr_contact_email, p.state, tenant,
    )  # fmt: skip


async def set_programme_state(conn: Conn, p: Programme) -> None:
    await conn.execute(
        "UPDATE programmes SET state = $2, updated_at = now() WHERE programme_id = $1", p.programme_id, p.state
    )


async def list_programmes(conn: Conn) -> list[Programme]:
    rows = await conn.fetch(f"SELECT {_PROGRAMME} FROM programmes ORDER BY created_at, programme_id")
    return [_programme(r) for r in rows]


# --- participants ----------------------------------------------------------------------------------

_PARTICIPANT = "participant_id, programme_id, employee_id, role, profile, status"


def _participant(row: Any) -> Participant:
    return Participant(**dict(row))


async def get_participant(conn: Conn, participant_id: str, *, for_update: bool = False) -> Participant:
    sql = f"SELECT {_PARTICIPANT} FROM participants WHERE participant_id = $1" + (" FOR UPDATE" if for_update else "")
    row = await conn.fetchrow(sql, participant_id)
    if row is None:
        raise NotFound(f"no participant {participant_id}", field="participant_id")
    return _participant(row)


async def insert_participants(conn: Conn, participants: list[Participant], tenant: str) -> None:
    await conn.executemany(
        f"INSERT INTO participants ({_PARTICIPANT}, tenant) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [(p.participant_id, p.programme_id, p.employee_id, p.role, p.profile, p.status, tenant) for p in participants],
    )
    await record_managers(conn, [(p.employee_id, p.profile.get("manager_employee_id")) for p in participants])


async def update_participant(conn: Conn, p: Participant) -> None:
    await conn.execute(
        "UPDATE participants SET profile = $2, status = $3, updated_at = now() WHERE participant_id = $1",
        p.participant_id, p.profile, p.status,
    )  # fmt: skip
    await record_managers(conn, [(p.employee_id, p.profile.get("manager_employee_id"))])


async def list_participants(
    conn: Conn, programme_id: str, *, role: str | None = None, status: str | None = "enrolled",
    limit: int = 10_000, offset: int = 0,
) -> tuple[list[Participant], int]:  # fmt: skip
    where, args = ["programme_id = $1"], [programme_id]
    if role:
        args.append(role)
        where.append(f"role = ${len(args)}")
    if status:
        args.append(status)
        where.append(f"status = ${len(args)}")
    clause = " AND ".join(where)
    total = await conn.fetchval(f"SELECT count(*) FROM participants WHERE {clause}", *args)
    rows = await conn.fetch(
        f"SELECT {_PARTICIPANT} FROM participants WHERE {clause} ORDER BY participant_id "
        f"LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
        *args, limit, offset,
    )  # fmt: skip
    return [_participant(r) for r in rows], int(total)


async def record_managers(conn: Conn, pairs: list[tuple[str, Any]]) -> None:
    await conn.executemany(
        "INSERT INTO org_chart (employee_id, manager_employee_id) VALUES ($1, $2) ON CONFLICT (employee_id) "
        "DO UPDATE SET manager_employee_id = EXCLUDED.manager_employee_id, updated_at = now()",
        [(e, m) for e, m in pairs],
    )


async def org_chart(conn: Conn) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT employee_id, manager_employee_id FROM org_chart WHERE manager_employee_id IS NOT NULL"
    )
    return {r["employee_id"]: r["manager_employee_id"] for r in rows}


# --- pairs -----------------------------------------------------------------------------------------

_PAIR = (
    "pair_id, programme_id, mentor_id, mentee_id, state, score, rationale, origin, match_run_id, end_reason, "
    "mentor_consent, mentee_consent, consent_deadline, warnings, extended_until, started_on"
)


def _pair(row: Any) -> Pair:
    data = dict(row)
    data["warnings"] = tuple(data["warnings"] or ())
    return Pair(**data)


async def get_pair(conn: Conn, pair_id: str, *, for_update: bool = False) -> Pair:
    sql = f"SELECT {_PAIR} FROM pairs WHERE pair_id = $1" + (" FOR UPDATE" if for_update else "")
    row = await conn.fetchrow(sql, pair_id)
    if row is None:
        raise NotFound(f"no pair {pair_id}", field="pair_id")
    return _pair(row)


async def insert_pair(conn: Conn, pair: Pair, tenant: str) -> None:
    await conn.execute(
        f"INSERT INTO pairs ({_PAIR}, tenant) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        pair.pair_id, pair.programme_id, pair.mentor_id, pair.mentee_id, pair.state, pair.score, pair.rationale,
        pair.origin, pair.match_run_id, pair.end_reason, pair.mentor_consent, pair.mentee_consent,
        pair.consent_deadline, list(pair.warnings), pair.extended_until, pair.started_on, tenant,
    )  # fmt: skip


async def update_pair(conn: Conn, pair: Pair) -> None:
    await conn.execute(
        "UPDATE pairs SET state = $2, end_reason = $3, mentor_consent = $4, mentee_consent = $5, "
        "extended_until = $6, updated_at = now() WHERE pair_id = $1",
        pair.pair_id, pair.state, pair.end_reason, pair.mentor_consent, pair.mentee_consent, pair.extended_until,
    )  # fmt: skip


async def live_pairs_of(conn: Conn, participant_id: str, *, for_update: bool = False) -> list[Pair]:
    rows = await conn.fetch(
        f"SELECT {_PAIR} FROM pairs WHERE (mentor_id = $1 OR mentee_id = $1) "
        "AND state IN ('proposed', 'active', 'paused') ORDER BY pair_id" + (" FOR UPDATE" if for_update else ""),
        participant_id,
    )
    return [_pair(r) for r in rows]


async def live_pairs_in(conn: Conn, programme_id: str) -> list[Pair]:
    rows = await conn.fetch(
        f"SELECT {_PAIR} FROM pairs WHERE programme_id = $1 AND state IN ('proposed', 'active', 'paused')",
        programme_id,
    )
    return [_pair(r) for r in rows]


async def list_pairs(
    conn: Conn, *, programme_id: str | None, state: str | None, participant_id: str | None = None,
    limit: int, offset: int,
) -> tuple[list[Pair], int]:  # fmt: skip
    where: list[str] = []
    args: list[Any] = []
    if programme_id:
        args.append(programme_id)
        where.append(f"programme_id = ${len(args)}")
    if state:
        args.append(state)
        where.append(f"state = ${len(args)}")
    if participant_id:
        args.append(participant_id)
        where.append(f"(mentor_id = ${len(args)} OR mentee_id = ${len(args)})")
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    total = await conn.fetchval(f"SELECT count(*) FROM pairs{clause}", *args)
    rows = await conn.fetch(
        f"SELECT {_PAIR} FROM pairs{clause} ORDER BY created_at, pair_id "
        f"LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
        *args, limit, offset,
    )  # fmt: skip
    return [_pair(r) for r in rows], int(total)


async def expired_proposals(conn: Conn, programme_id: str) -> list[Pair]:
    rows = await conn.fetch(
        f"SELECT {_PAIR} FROM pairs WHERE programme_id = $1 AND state = 'proposed' AND consent_deadline < now() "
        "FOR UPDATE",
        programme_id,
    )
    return [_pair(r) for r in rows]


# --- match runs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalRow:
    proposal_id: str
    match_run_id: str
    programme_id: str
    mentor_id: str
    mentee_id: str
    score: float
    components: dict[str, float]
    rationale: str
    forced: bool
    status: str
    pair_id: str | None


@dataclass(frozen=True)
class MatchRunRow:
    match_run_id: str
    programme_id: str
    kind: str
    algorithm_version: str
    objective: str
    policy: dict[str, Any]
    unmatched: list[dict[str, Any]]
    conflicts: list[str]
    total_score: float
    created_at: datetime
    proposals: list[ProposalRow]


async def insert_match_run(conn: Conn, run: MatchRunRow) -> None:
    await conn.execute(
        "INSERT INTO match_runs (match_run_id, programme_id, kind, algorithm_version, objective, policy, unmatched, "
        "conflicts, total_score, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        run.match_run_id, run.programme_id, run.kind, run.algorithm_version, run.objective, run.policy,
        run.unmatched, run.conflicts, run.total_score, run.created_at,
    )  # fmt: skip
    await conn.executemany(
        "INSERT INTO proposals (proposal_id, match_run_id, programme_id, mentor_id, mentee_id, score, components, "
        "rationale, forced, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        [
            (
                p.proposal_id,
                p.match_run_id,
                p.programme_id,
                p.mentor_id,
                p.mentee_id,
                p.score,
                p.components,
                p.rationale,
                p.forced,
                p.status,
            )
            for p in run.proposals
        ],
    )


async def supersede_open_proposals(conn: Conn, programme_id: str) -> int:
    result = await conn.execute(
        "UPDATE proposals SET status = 'superseded' WHERE programme_id = $1 AND status = 'open'", programme_id
    )
    return int(result.split()[-1])


async def get_match_run(conn: Conn, match_run_id: str, *, for_update: bool = False) -> MatchRunRow:
    row = await conn.fetchrow(
        "SELECT match_run_id, programme_id, kind, algorithm_version, objective, policy, unmatched, conflicts, "
        "total_score, created_at FROM match_runs WHERE match_run_id = $1" + (" FOR UPDATE" if for_update else ""),
        match_run_id,
    )
    if row is None:
        raise NotFound(f"no match run {match_run_id}", field="match_run_id")
    proposals = await conn.fetch(
        "SELECT proposal_id, match_run_id, programme_id, mentor_id, mentee_id, score, components, rationale, forced, "
        "status, pair_id FROM proposals WHERE match_run_id = $1 ORDER BY mentor_id, mentee_id"
        + (" FOR UPDATE" if for_update else ""),
        match_run_id,
    )
    return MatchRunRow(**dict(row), proposals=[ProposalRow(**dict(p)) for p in proposals])


async def list_match_runs(conn: Conn, programme_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT match_run_id FROM match_runs WHERE programme_id = $1 ORDER BY created_at, match_run_id", programme_id
    )
    return [r["match_run_id"] for r in rows]


async def mark_proposal_accepted(conn: Conn, proposal_id: str, pair_id: str) -> None:
    await conn.execute(
        "UPDATE proposals SET status = 'accepted', pair_id = $2 WHERE proposal_id = $1", proposal_id, pair_id
    )


async def live_load(conn: Conn, programme_id: str) -> dict[str, int]:
    """Live pairs per participant (mentors: seats used; mentees: already paired)."""
    rows = await conn.fetch(
        "SELECT who, count(*) AS n FROM (SELECT mentor_id AS who FROM pairs WHERE programme_id = $1 AND state IN "
        "('proposed', 'active', 'paused') UNION ALL SELECT mentee_id FROM pairs WHERE programme_id = $1 AND state IN "
        "('proposed', 'active', 'paused')) x GROUP BY who",
        programme_id,
    )
    return {r["who"]: int(r["n"]) for r in rows}
