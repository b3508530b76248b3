"""Errors a command can end in, each with the HTTP status the edge answers with.

A domain error names the problem (`code`), says it in words (`message`) and, where one input field is
to blame, names it (`field`). Raising one inside a unit of work rolls everything back.
"""

from __future__ import annotations


class DomainError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        details: list[dict[str, str | int | None]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or []
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": self.message, "field": self.field}
        if self.details:
            out["details"] = self.details
        return out


class InvalidInput(DomainError):
    status = 422
    code = "invalid_input"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The request is well-formed but the current state does not allow it (illegal transition)."""

    status = 409
    code = "conflict"


class Unauthorized(DomainError):
    """No valid credentials: the caller must authenticate (answered with WWW-Authenticate)."""

    status = 401
    code = "unauthorized"
