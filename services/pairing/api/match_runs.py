"""Match runs: start one, read its proposals with their rationale, accept all or some; rematch."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.pairing import handlers, repository
from services.pairing.api.deps import Connection, PathId, Tenant, UoW
from services.pairing.api.schemas import PairOut, PolicyOverrideIn, Strict

router = APIRouter(tags=["match runs"])


class MatchRunIn(Strict):
    objective: Literal["max_total_score", "max_matched"] | None = Field(
        default=None, description="Override the programme's objective for this run (or give `policy.objective`)."
    )
    policy: PolicyOverrideIn | None = Field(
        default=None,
        description="Fields of the programme's matching policy to replace for this run only (the weights one by "
        "one); what is left out stays the programme's. The run records the whole policy it used (`policy`).",
    )


class AcceptIn(Strict):
    proposal_ids: list[str] | None = Field(default=None, description="Omit to accept every open proposal.")
    started_on: date | None = Field(default=None, description="When the pairs began, if before today.")


class ProposalOut(BaseModel):
    proposal_id: str
    mentor_id: str
    mentee_id: str
    score: float
    components: dict[str, float]
    rationale: str
    forced: bool
    status: str
    pair_id: str | None
    reasons: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The rationale as reasons with stable codes and parameters (docs/rationale-reasons.md).",
    )


class MatchRunOut(BaseModel):
    match_run_id: str
    programme_id: str
    kind: str
    algorithm_version: str
    objective: str
    policy: dict[str, Any] = Field(
        description="The whole matching policy the run used: the programme's, with the fields the run changed."
    )
    total_score: float
    created_at: datetime
    proposals: list[ProposalOut]
    unmatched: list[dict[str, Any]]
    conflicts: list[str]
    directory_revision: int | None = Field(description="The directory revision the reporting-line rule read.")
    org_chart_hash: str | None = Field(description="SHA-256 of the reporting lines the rule read.")

    @classmethod
    def of(cls, run: repository.MatchRunRow) -> MatchRunOut:
        return cls(**{**vars(run), "proposals": [ProposalOut(**vars(p)) for p in run.proposals]})


@router.post(
    "/programmes/{programme_id}/match-runs",
    status_code=201,
    response_model=MatchRunOut,
    summary="Run the optimal matching over everyone still free, under the programme's policy or with some of its "
    "fields changed for this run; publishes MatchRunCompleted",
)
async def start(programme_id: PathId, body: MatchRunIn, uow: UoW) -> MatchRunOut:
    async with uow:
        changes = body.policy.changes() if body.policy is not None else None
        run = await handlers.start_match_run(uow, programme_id, objective=body.objective, policy=changes)
        return MatchRunOut.of(run)


@router.get("/programmes/{programme_id}/match-runs", response_model=list[MatchRunOut])
async def list_runs(programme_id: PathId, conn: Connection, tenant: Tenant) -> list[MatchRunOut]:
    await repository.get_programme(conn, tenant, programme_id)
    return [
        MatchRunOut.of(await repository.get_match_run(conn, tenant, i))
        for i in await repository.list_match_runs(conn, tenant, programme_id)
    ]


@router.get("/match-runs/{match_run_id}", response_model=MatchRunOut)
async def get_run(match_run_id: PathId, conn: Connection, tenant: Tenant) -> MatchRunOut:
    return MatchRunOut.of(await repository.get_match_run(conn, tenant, match_run_id))


@router.post(
    "/match-runs/{match_run_id}/accept",
    response_model=list[PairOut],
    summary="Accept all or some proposals: each becomes a pair (or awaits both people's consent)",
)
async def accept(match_run_id: PathId, body: AcceptIn, uow: UoW) -> list[PairOut]:
    async with uow:
        accepted = await handlers.accept_proposals(uow, match_run_id, body.proposal_ids, started_on=body.started_on)
        return [PairOut.of(p) for p in accepted]


@router.post(
    "/pairs/{pair_id}/rematch",
    status_code=201,
    response_model=MatchRunOut,
    summary="After a pair ended, propose a new partner for whoever remains",
)
async def rematch(pair_id: PathId, uow: UoW) -> MatchRunOut:
    async with uow:
        return MatchRunOut.of(await handlers.rematch(uow, pair_id))
