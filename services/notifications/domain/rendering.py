"""Rendering notifications from Jinja2 templates (German and English), never with a missing field."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

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

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    undefined=StrictUndefined,
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)


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
    """Subject (first line, 'Subject: ...') and body of a rule's template; English when the locale is missing."""
    if rule not in RULES:
        raise ValueError(f"no template for rule {rule!r}")
    lang = locale if locale in LOCALES else "en"
    text = _env.get_template(f"{lang}/{rule}.txt.j2").render(**context).strip()
    first, _, body = text.partition("\n")
    if not first.startswith("Subject: "):
        raise ValueError(f"template {lang}/{rule} must start with 'Subject: '")
    return Message(subject=first.removeprefix("Subject: ").strip(), text=body.strip() + "\n")
