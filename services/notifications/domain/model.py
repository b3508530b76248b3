"""The notifications domain: which message goes to whom and when, exactly once. Pure: no I/O.

Retries, back-off and what a lapsed claim means: domain/delivery.py; addresses, headers and Message-IDs:
domain/mail.py.

A notification is identified by (tenant, rule, trigger, recipient): the same triggering event (or, for
time-based rules, the same period) always yields the same id, so a redelivered event or a restart can
never plan or send a message twice; the same ids in two tenants are two notifications.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

NAMESPACE = uuid.UUID("0b7c3a53-6f0e-4c1b-9a57-7d1f3f2b9e10")
#: The tenant of a deployment before tenants were kept apart (TANDEM_TENANT's default).
DEFAULT_TENANT = "default"
#: HR's digest of a programme goes to the recipient `hr:<programme id>` (the programme's HR contact).
HR = "hr:"

Rule = Literal[
    "welcome",
    "reminder_24h",
    "reminder_1h",
    "session_cancelled",
    "feedback_request",
    "nudge",
    "hr_digest",
    "closing_survey",
    "partner_left",
]
Channel = Literal["email", "chat"]
RULES: tuple[Rule, ...] = get_args(Rule)

#: Messages everyone gets even after opting out: they change what people must do or know.
MANDATORY: frozenset[str] = frozenset({"welcome", "session_cancelled", "partner_left"})
#: What still goes out for a pair that has ended: its farewell, the calendar cancellations of the sessions its
#: end called off, and HR's digest. Everything else of an ended pair (reminders, nudges, ...) is dropped.
AFTER_END: frozenset[str] = frozenset({"closing_survey", "partner_left", "session_cancelled", "hr_digest"})
#: What a paused pair is not sent: it is not expected to meet.
NOT_WHILE_PAUSED: frozenset[str] = frozenset({"nudge"})


def tenant_namespace(tenant: str) -> uuid.UUID:
    """Each tenant plans in an id space of its own: a pair id, a programme id or a recipient id that two tenants
    both use never makes their notifications one. The default tenant keeps the original namespace, so the ids of
    what was planned before tenants were kept apart stay the same (nothing planned then is planned again)."""
    return NAMESPACE if tenant == DEFAULT_TENANT else uuid.uuid5(NAMESPACE, f"tenant|{tenant}")


def notification_id(rule: str, trigger: str, recipient_id: str, *, tenant: str) -> uuid.UUID:
    return uuid.uuid5(tenant_namespace(tenant), f"{rule}|{trigger}|{recipient_id}")


@dataclass(frozen=True)
class Preferences:
    channel: Channel = "email"
    locale: Literal["de", "en"] = "en"
    quiet_start: time | None = time(20, 0)
    quiet_end: time | None = time(8, 0)
    opted_out: bool = False
    chat_webhook_url: str | None = None


@dataclass(frozen=True)
class Planned:
    """A notification of `tenant` to send at `due_at` (UTC)."""

    notification_id: uuid.UUID
    rule: Rule
    recipient_id: str
    due_at: datetime
    trigger: str
    pair_id: str | None = None
    programme_id: str | None = None
    session_id: str | None = None
    tenant: str = field(kw_only=True)

    @property
    def mandatory(self) -> bool:
        return self.rule in MANDATORY


def plan(
    rule: Rule,
    trigger: str,
    recipients: tuple[str, ...],
    due_at: datetime,
    *,
    tenant: str,
    pair_id: str | None = None,
    programme_id: str | None = None,
    session_id: str | None = None,
) -> list[Planned]:
    """One notification per recipient, all of the tenant `tenant` (the triggering event's)."""
    return [
        Planned(
            notification_id(rule, trigger, r, tenant=tenant),
            rule,
            r,
            due_at,
            trigger,
            pair_id,
            programme_id,
            session_id,
            tenant=tenant,
        )
        for r in recipients
    ]


def farewell(
    trigger: str,
    pair_id: str,
    programme_id: str,
    members: tuple[str, str],
    reason: str,
    left: frozenset[str],
    at: datetime,
    *,
    tenant: str,
) -> list[Planned]:
    """What the end of a pair plans, given who of its members are known to have left the company (`left`).

    Nothing ever goes to someone who left. A pair that ended because someone left the company sends the one who
    stayed a `partner_left` message (it carries the closing survey's link too); while nobody is known to have
    left yet (the withdrawal travels on another partition and may come later), nothing is planned: planning it
    with the withdrawal, under the same trigger (the PairEnded), gives the same notification id either way.
    Any other end sends both a closing survey.
    """
    stayed = tuple(m for m in members if m not in left)
    if reason == "left_company":
        if len(stayed) == len(members):
            return []
        return plan("partner_left", trigger, stayed, at, tenant=tenant, pair_id=pair_id, programme_id=programme_id)
    return plan("closing_survey", trigger, stayed, at, tenant=tenant, pair_id=pair_id, programme_id=programme_id)


def reminders(
    event_id: str,
    session_id: str,
    pair_id: str,
    programme_id: str,
    recipients: tuple[str, ...],
    starts_at: datetime,
    planned_at: datetime,
    *,
    tenant: str,
) -> list[Planned]:
    """24 h and 1 h before the session; a reminder whose time has already passed is not planned."""
    out: list[Planned] = []
    ahead: tuple[tuple[Rule, timedelta], ...] = (
        ("reminder_24h", timedelta(hours=24)),
        ("reminder_1h", timedelta(hours=1)),
    )
    for rule, before in ahead:
        due = starts_at - before
        if due > planned_at:
            out += plan(
                rule,
                event_id,
                recipients,
                due,
                tenant=tenant,
                pair_id=pair_id,
                programme_id=programme_id,
                session_id=session_id,
            )
    return out


def still_planned(planned: list[Planned], left: frozenset[str], pair_state: str | None) -> list[Planned]:
    """What of `planned` is planned: nothing to someone who left the company (`left`), and for an ended pair only
    what still goes out after the end (AFTER_END)."""
    return [n for n in planned if n.recipient_id not in left and (pair_state != "ended" or n.rule in AFTER_END)]


def suggested_first_meeting(created_at: datetime, timezone: str) -> datetime:
    """Two working days after pairing, 10:00 in the mentee's time zone (the senior's calendar is the hard one)."""
    tz = ZoneInfo(timezone)
    day = created_at.astimezone(tz).date()
    added = 0
    while added < 2:
        day += timedelta(days=1)
        if day.weekday() < 5:
            added += 1
    return datetime.combine(day, time(10, 0), tzinfo=tz)


def in_quiet_hours(moment: datetime, prefs: Preferences, timezone: str) -> datetime | None:
    """When `moment` falls in the recipient's quiet hours, the end of them (UTC); else None."""
    if prefs.quiet_start is None or prefs.quiet_end is None or prefs.quiet_start == prefs.quiet_end:
        return None
    tz = ZoneInfo(timezone)
    local = moment.astimezone(tz)
    start, end = prefs.quiet_start, prefs.quiet_end
    now_t = local.time()
    if start < end:  # e.g. 12:00-14:00
        inside = start <= now_t < end
        end_day = local.date()
    else:  # wraps midnight, e.g. 20:00-08:00
        inside = now_t >= start or now_t < end
        end_day = local.date() + timedelta(days=1) if now_t >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class Decision:
    action: Literal["send", "defer", "skip", "cancel"]
    until: datetime | None = None
    reason: str = ""


def decide(
    job: Planned,
    now: datetime,
    prefs: Preferences,
    timezone: str,
    *,
    pair_ended: bool,
    session_starts_at: datetime | None = None,
    recipient_left: bool = False,
    pair_paused: bool = False,
    recipient_erased: bool = False,
) -> Decision:
    """What to do with a due notification right now."""
    if recipient_erased:
        return Decision("cancel", reason="the recipient was erased: nothing is sent to them")
    if recipient_left:
        return Decision("cancel", reason="the recipient left the company: nothing more is sent to them")
    if pair_ended and job.rule not in AFTER_END:
        return Decision("cancel", reason="the pair has ended: nothing more is sent for it")
    if pair_paused and job.rule in NOT_WHILE_PAUSED:
        return Decision("cancel", reason="the pair is paused")
    if prefs.opted_out and not job.mandatory:
        return Decision("skip", reason="the recipient opted out of all but mandatory messages")
    quiet_until = in_quiet_hours(now, prefs, timezone)
    if quiet_until is not None:
        if (
            job.rule in ("reminder_24h", "reminder_1h")
            and session_starts_at is not None
            and quiet_until >= session_starts_at
        ):
            # a reminder after the session starts is useless; during quiet hours it is skipped
            return Decision("skip", reason="quiet hours last until after the session starts")
        return Decision("defer", until=quiet_until, reason="quiet hours")
    return Decision("send")


@dataclass(frozen=True)
class PairActivity:
    """A live pair's meetings as its events tell them: since when it has been active without a break, and its last
    session held. Its quiet clock is the sessions service's (at-risk pairs): it starts at the last session held, or
    when it became active (it began, or was resumed after a pause) if that is later or there is none."""

    pair_id: str
    programme_id: str
    mentor_id: str
    mentee_id: str
    #: when the pair began (PairCreated.began: its `started_on` when earlier than its recording), or its latest
    #: resumption after a pause
    active_since: datetime
    last_held: datetime | None = None

    @property
    def members(self) -> tuple[str, str]:
        return self.mentor_id, self.mentee_id

    @property
    def quiet_since(self) -> datetime:
        return self.active_since if self.last_held is None else max(self.last_held, self.active_since)

    def days_quiet(self, now: datetime) -> int:
        return (now - self.quiet_since).days

    def at_risk(self, now: datetime, cadence_days: int) -> bool:
        """Quiet for more than twice the programme's cadence."""
        return now - self.quiet_since > timedelta(days=2 * cadence_days)

    def nudge_trigger(self, now: datetime, cadence_days: int) -> str | None:
        return nudge_trigger(self.pair_id, self.quiet_since, now, cadence_days)


def nudge_trigger(pair_id: str, quiet_since: datetime, now: datetime, cadence_days: int) -> str | None:
    """A pair quiet for more than twice the cadence is nudged once per such period of silence."""
    period = timedelta(days=2 * cadence_days)
    quiet = now - quiet_since
    if quiet <= period:
        return None
    return f"{pair_id}@{quiet_since.date().isoformat()}#{int(quiet / period)}"


def digest_trigger(programme_id: str, now: datetime) -> str:
    year, week, _ = now.isocalendar()
    return f"{programme_id}@{year}-W{week:02d}"


@dataclass(frozen=True)
class SessionEntry:
    """A session as notifications knows it (its projection), for the calendar entry its messages carry."""

    session_id: str
    starts_at: datetime
    duration_minutes: int
    sequence: int
    status: str
    agenda: str = ""
    cancel_reason: str = ""

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)


@dataclass(frozen=True)
class Message:
    """A rendered notification: its subject line and its plain-text body."""

    subject: str
    text: str
