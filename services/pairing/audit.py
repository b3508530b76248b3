"""The pairing service's subjects for `tandem audit`: employees of the directory, folded by the directory's
own `evolve`, so "who was X's manager on date Y" is answered from the log exactly as the directory applied it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.pairing.domain import directory
from shared.audit import Kind, Logged
from shared.events import Envelope
from shared.events.directory import DIRECTORY_EVENTS

_TYPES = frozenset(m.TYPE for m in DIRECTORY_EVENTS)


@dataclass(frozen=True)
class EmployeeKind:
    """An employee of one tenant's directory (the same employee id in two tenants is two people)."""

    tenant: str | None = None
    name: str = "employee"

    def claims(self, env: Envelope[Any], subject: str) -> bool:
        """Events about the employee under this id: and the renumbering that moved them away from it."""
        return (
            env.type in _TYPES
            and subject in (env.data.employee_id, getattr(env.data, "previous_employee_id", None))
            and (self.tenant is None or env.tenant == self.tenant)
        )

    def fold(self, events: Sequence[Logged], subject: str) -> dict[str, Any]:
        state: directory.Employee | None = None
        for e in events:
            if self.claims(e.env, subject):
                state = directory.evolve(state, e.env.data)
        if state is None:
            return {"known": False}
        return {
            "known": True,
            **{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in state.record().items()},
            "effective_at": state.effective_at.isoformat(),
            "directory_revision": state.revision,
        }


def kinds(tenant: str | None = None) -> list[Kind]:
    return [EmployeeKind(tenant)]
