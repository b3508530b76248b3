"""Rendering notifications from Jinja2 templates (German and English), never with a missing field.

A template's first line is the subject (`Subject: ...`), the rest the body. The subject line is rendered apart,
every value in it made single-line (domain/mail.py), so a name with a line break cannot cut the subject or spill
into the body. Any error while rendering (a value the template names but the context lacks, a syntax error, a
template missing) is a RenderError naming the template: the notification fails with it and can be resent once the
template or the data is fixed. The templates come from `templates/` beside the service, or from another folder of
the same layout (NOTIFICATIONS_TEMPLATES); a changed file is read again on the next render."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from services.notifications.domain.mail import single_line
from services.notifications.domain.model import Message

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
LOCALES = ("de", "en")
RULES = (
    "welcome", "reminder_24h", "reminder_1h", "session_cancelled", "feedback_request", "nudge", "hr_digest",
    "closing_survey", "partner_left",
)  # fmt: skip
_MONTHS_DE = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
              "November", "Dezember"]  # fmt: skip
_DAYS_DE = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"]

SUBJECT = "Subject: "


class RenderError(ValueError):
    """A notification that cannot be rendered, with the reason (the template and what went wrong)."""


def _single_line(value: Any) -> Any:
    return single_line(value) if isinstance(value, str) else value


class Templates:
    """The templates of a folder laid out as `templates/<locale>/<rule>.txt.j2`."""

    def __init__(self, root: Path = TEMPLATES) -> None:
        self.root = root
        self.env = Environment(
            loader=FileSystemLoader(root),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=True,
        )
        #: the subject line's values are made single-line (str values; numbers and lists as they are)
        self.subject_env = self.env.overlay(finalize=_single_line)
        self._cache: dict[str, tuple[str, tuple[Template, Template]]] = {}

    def render(self, rule: str, locale: str, context: dict[str, Any]) -> Message:
        """Subject and body of a rule's template; English when the locale is missing. RenderError otherwise."""
        if rule not in RULES:
            raise RenderError(f"no template for rule {rule!r}")
        lang = locale if locale in LOCALES else "en"
        name = f"{lang}/{rule}.txt.j2"
        try:
            subject_template, body_template = self._compiled(name)
            subject = subject_template.render(**context)
            body = body_template.render(**context)
        except RenderError:
            raise
        except Exception as exc:  # a template error, or a value a filter cannot take: the reason, named
            raise RenderError(f"template {name}: {type(exc).__name__}: {exc}") from exc
        return Message(subject=single_line(subject), text=body.strip() + "\n")

    def _compiled(self, name: str) -> tuple[Template, Template]:
        """The subject line and the body of a template, compiled (again when the file changed)."""
        assert self.env.loader is not None
        source, _, _ = self.env.loader.get_source(self.env, name)
        if (found := self._cache.get(name)) is not None and found[0] == source:
            return found[1]
        first, _, rest = source.lstrip().partition("\n")
        if not first.startswith(SUBJECT):
            raise RenderError(f"template {name}: its first line must start with {SUBJECT!r}")
        pair = (self.subject_env.from_string(first.removeprefix(SUBJECT)), self.env.from_string(rest))
        self._cache[name] = (source, pair)
        return pair


_default = Templates()


def when(value: datetime, locale: str, timezone: str) -> str:
    """A date and time in the recipient's zone, the way their language writes it."""
    local = value.astimezone(ZoneInfo(timezone))
    if locale == "de":
        return f"{_DAYS_DE[local.weekday()]}, {local.day}. {_MONTHS_DE[local.month - 1]} {local.year}, " \
               f"{local:%H:%M} Uhr ({timezone})"  # fmt: skip
    return f"{local:%A}, {local.day} {local:%B %Y}, {local:%H:%M} ({timezone})"


def day(value: datetime, locale: str, timezone: str = "UTC") -> str:
    """A date (no time) in the zone, the way the language writes it: "2. März 2026", "2 March 2026"."""
    local = value.astimezone(ZoneInfo(timezone))
    if locale == "de":
        return f"{local.day}. {_MONTHS_DE[local.month - 1]} {local.year}"
    return f"{local.day} {local:%B %Y}"


def render(rule: str, locale: str, context: dict[str, Any]) -> Message:
    """A rule's message from the service's own templates (see Templates.render)."""
    return _default.render(rule, locale, context)
