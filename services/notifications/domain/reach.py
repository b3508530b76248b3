"""Who may reach a recipient's preferences and history: pure.

A recipient is only ever looked up in the caller's tenant (the queries see to that); within it, HR reaches
everyone, a participant only themselves: a recipient whose employee id is theirs. Only a person themselves
changes their preferences. Whatever a caller may not reach answers 404, like an id of another tenant.
"""

from __future__ import annotations

from shared.auth import Principal


def is_theirs(caller: Principal, recipient_employee_id: str | None) -> bool:
    """The recipient is the caller: the same employee (both known). The tenant is the query's business: a
    recipient is only ever looked up in the caller's tenant."""
    return caller.employee_id is not None and recipient_employee_id == caller.employee_id


def may_read(caller: Principal, recipient_employee_id: str | None) -> bool:
    """HR reads anyone's preferences and history in their tenant; a participant only their own."""
    return caller.has("hr") or (caller.has("participant") and is_theirs(caller, recipient_employee_id))


def may_change(caller: Principal, recipient_employee_id: str | None) -> bool:
    """People change only their own preferences (HR too: being HR is no way to change someone else's)."""
    return caller.has("participant") and is_theirs(caller, recipient_employee_id)
