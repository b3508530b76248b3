"""The caller of a sessions route, with what they reach (domain/callers.py has the rules; this finds the facts).

`Who` is a route's dependency (a `CallerReach`): the verified principal, the tenant they act in, and whether
the route's rule narrows them to their own records (they got in only as a participant). Its checks raise the
same 404 as an unknown id, so a participant cannot tell another pair from no pair.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from services.sessions import repository
from services.sessions.domain import callers
from services.sessions.domain.model import PairView
from shared.access import principal, rule_for
from shared.auth import Principal
from shared.db import Conn


class CallerReach:
    def __init__(self, caller: Principal, route_roles: frozenset[str], own: bool) -> None:
        self.principal = caller
        self.tenant = caller.tenant
        self.route_roles = route_roles
        #: Only their own pairs, sessions and feedback (see domain/callers.py).
        self.narrowed = own and callers.only_as_participant(caller.roles, route_roles)
        self._own_ids: frozenset[str] | None = None

    @property
    def roles(self) -> frozenset[str]:
        return self.principal.roles

    @property
    def acting_role(self) -> str:
        return callers.acting_role(self.roles, self.route_roles)

    async def own_ids(self, conn: Conn) -> frozenset[str]:
        """The caller's participant ids in their tenant (none for a token without an employee id)."""
        if self._own_ids is None:
            self._own_ids = await repository.participant_ids(conn, self.tenant, self.principal.employee_id)
        return self._own_ids

    async def pair(self, conn: Conn, pair_id: str) -> PairView:
        """The pair, if this caller reaches it; else the 404 of an unknown pair."""
        view = await repository.pair_view(conn, self.tenant, pair_id)
        if self.narrowed and not callers.is_member(view, await self.own_ids(conn)):
            raise repository.no_pair(pair_id)
        return view

    async def session(self, conn: Conn, session_id: str) -> Any:
        """The session's row, if this caller reaches its pair; else the 404 of an unknown session."""
        row = await repository.session_row(conn, self.tenant, session_id)
        if self.narrowed:
            view = await repository.pair_view(conn, self.tenant, row["pair_id"])
            if not callers.is_member(view, await self.own_ids(conn)):
                raise repository.no_session(session_id)
        return row

    async def acting_as(self, conn: Conn, field: str, participant_id: str) -> None:
        """A caller narrowed to their own records acts only as themselves (403 naming the field)."""
        if self.narrowed:
            callers.check_acting_as(field, participant_id, await self.own_ids(conn))


async def _who(request: Request) -> CallerReach:
    caller = principal(request)
    route = request.scope.get("route")
    rule = rule_for(request.app.state.access, request.method, getattr(route, "path", request.url.path))
    assert rule is not None  # authorise refused the request otherwise
    return CallerReach(caller, rule.roles, rule.own)


#: The caller of a route and what they reach.
Who = Annotated[CallerReach, Depends(_who)]
