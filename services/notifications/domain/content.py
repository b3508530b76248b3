"""What a due notification is made of: its recipient and how they want it, the state of its pair and session
that decides whether it still goes out, its template's values and its calendar attachment. Pure: the repository
gathers the facts from the projection (`Facts`, `DigestFacts`), these functions turn them into a `Draft`.

The template's values are data only (names, times written in the recipient's language, links, numbers): a
partner not known (yet) is None, a missing rationale, agenda or reason empty, and each template words that in its
language. Every sentence is in the templates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import Any

from services.notifications.domain import wording
from services.notifications.domain.model import (
    Channel,
    Decision,
    PairActivity,
    Planned,
    Preferences,
    SessionEntry,
    decide,
    suggested_first_meeting,
)
from services.notifications.domain.rendering import day, when
from shared.calendar import CalendarPerson, session_ics, session_summary

#: (file name, MIME type, bytes)
Attachment = tuple[str, str, bytes]
#: The rules whose message carries the session's calendar entry (an invitation, or its cancellation).
WITH_CALENDAR = frozenset({"reminder_24h", "reminder_1h", "session_cancelled"})
#: The cadence a message names when its programme is not known (yet).
DEFAULT_CADENCE_DAYS = 14


@dataclass(frozen=True)
class Person:
    """A participant as the projection knows them."""

    participant_id: str
    display_name: str
    email: str
    role: str
    locale: str
    timezone: str
    left_company: bool = False
    #: erased (issue 16): their name and address are the placeholder; nothing is sent to them
    erased: bool = False


@dataclass(frozen=True)
class Programme:
    programme_id: str
    name: str
    cadence_days: int
    hr_contact_email: str | None = None
    #: the HR contact's language (ProgramLaunched.hr_locale): HR's digest is written in it
    hr_locale: str = "en"


@dataclass(frozen=True)
class Pair:
    pair_id: str
    mentor_id: str
    mentee_id: str
    state: str
    rationale: str
    created_at: datetime
    #: the rationale as reasons with stable codes (worded in the recipient's language); none on pairs from before
    reasons: tuple[Mapping[str, Any], ...] = ()
    #: when the pair began, if before it was recorded (PairCreated.started_on: a programme moved in)
    started_on: date | None = None

    @property
    def moved_in(self) -> bool:
        """The pair began before Tandem recorded it (it met before): no "you now form a pair" welcome for it."""
        return self.started_on is not None and self.started_on < self.created_at.date()

    def partner_of(self, participant_id: str) -> str:
        return self.mentee_id if self.mentor_id == participant_id else self.mentor_id


@dataclass(frozen=True)
class Session(SessionEntry):
    """A session as the projection knows it: its calendar entry, when it was held and last changed."""

    held_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Facts:
    """What the projection knows that a participant's notification is made of."""

    me: Person
    preferences: Preferences
    programme: Programme | None = None
    pair: Pair | None = None
    partner: Person | None = None
    #: the mentee's time zone (the welcome's first meeting is in it)
    mentee_timezone: str | None = None
    session: Session | None = None
    #: the pair's meetings (a nudge says how long it has been quiet)
    activity: PairActivity | None = None
    #: the recipient has given their feedback for the notification's session already
    feedback_given: bool = False


@dataclass(frozen=True)
class Draft:
    """A due notification, ready to be decided on and rendered."""

    address: str
    name: str
    timezone: str
    preferences: Preferences
    #: what its template is given
    values: Mapping[str, Any]
    attachments: tuple[Attachment, ...] = ()
    pair_ended: bool = False
    pair_paused: bool = False
    recipient_left: bool = False
    recipient_erased: bool = False
    session_starts_at: datetime | None = None
    #: why it is not to be sent any more, whatever the rules say (e.g. the feedback it asks for was given)
    moot: str | None = None

    def decide(self, job: Planned, now: datetime) -> Decision:
        if self.moot is not None:
            return Decision("cancel", reason=self.moot)
        return decide(
            job,
            now,
            self.preferences,
            self.timezone,
            pair_ended=self.pair_ended,
            session_starts_at=self.session_starts_at,
            recipient_left=self.recipient_left,
            pair_paused=self.pair_paused,
            recipient_erased=self.recipient_erased,
        )

    @property
    def channel(self) -> Channel:
        """Chat when chosen and a webhook is set, else e-mail."""
        chat = self.preferences.channel == "chat" and self.preferences.chat_webhook_url
        return "chat" if chat else "email"

    @property
    def to_address(self) -> str:
        return (self.preferences.chat_webhook_url or "") if self.channel == "chat" else self.address

    def attachments_on(self, channel: Channel) -> tuple[Attachment, ...]:
        """Attachments go by e-mail only."""
        return self.attachments if channel == "email" else ()


# --- where the links in mails lead: the participant portal (served by the sessions service) -------------------


def pair_url(sessions_url: str, pair_id: str | None) -> str:
    """The pair's page: agreement, goals, sessions, schedule."""
    return f"{sessions_url}/me/pairs/{pair_id}"


def session_url(sessions_url: str, pair_id: str | None, session_id: str | None) -> str:
    """One session's page: reschedule, cancel, log, its .ics."""
    return f"{sessions_url}/me/pairs/{pair_id}/sessions/{session_id}"


def feedback_url(sessions_url: str, pair_id: str | None, session_id: str | None = None) -> str:
    """The feedback form for a session; without one, the closing survey (feedback on the whole pair)."""
    base = f"{sessions_url}/me/pairs/{pair_id}/feedback"
    return base if session_id is None else f"{base}?session={session_id}"


def preferences_url(sessions_url: str) -> str:
    """The participant's notification preferences (the "change how we reach you" footer)."""
    return f"{sessions_url}/me/preferences"


def participant_draft(
    job: Planned, facts: Facts, *, now: datetime, sessions_url: str, organizer: CalendarPerson | None = None
) -> Draft:
    """The notification `job` to a participant, from what the projection knows. `organizer` organises the calendar
    entries attached (the programme's sender address)."""
    me, prefs, pair, partner, programme = facts.me, facts.preferences, facts.pair, facts.partner, facts.programme
    lang = prefs.locale
    values: dict[str, Any] = {
        "recipient_name": me.display_name,
        "partner_name": partner.display_name if partner else None,
        "role": me.role,
        "role_name": wording.role_name(me.role, lang),
        "programme_name": programme.name if programme else "Tandem",
        "cadence_days": programme.cadence_days if programme else DEFAULT_CADENCE_DAYS,
        "pair_url": pair_url(sessions_url, job.pair_id),
        "preferences_url": preferences_url(sessions_url),
        "moved_in": False,
    }
    attachments: tuple[Attachment, ...] = ()
    session_start = None
    if job.rule == "welcome" and pair is not None:
        values["rationale"] = wording.rationale(pair.reasons, pair.rationale, lang)
        # A pair that met before Tandem recorded it (a programme moved in) is told where its tandem lives now; it
        # is not told that it "now" forms a pair, nor given a first meeting it had long ago (welcome templates).
        values["moved_in"] = pair.moved_in
        if pair.moved_in and pair.started_on is not None:
            values["began_on"] = day(datetime.combine(pair.started_on, time(12, 0), tzinfo=UTC), lang)
        else:
            first = suggested_first_meeting(pair.created_at, facts.mentee_timezone or "UTC")
            values["first_meeting"] = when(first, lang, me.timezone)
    if (session := facts.session) is not None:
        session_start = session.starts_at
        moment = session.held_at if job.rule == "feedback_request" and session.held_at else session.starts_at
        values["session_time"] = when(moment, lang, me.timezone)
        values["duration_minutes"] = session.duration_minutes
        values["agenda"] = session.agenda
        values["reason"] = wording.cancel_reason(session.cancel_reason, lang)
        values["session_url"] = session_url(sessions_url, job.pair_id, session.session_id)
        if job.rule in WITH_CALENDAR:
            # the calendar's COMMENT carries the cancellation reason as the mail words it
            worded = replace(session, cancel_reason=values["reason"])
            attachments = (invitation(worded, me, partner, organizer, locale=lang),)
    values["feedback_url"] = feedback_url(sessions_url, job.pair_id, job.session_id)
    values["survey_url"] = feedback_url(sessions_url, job.pair_id)
    if job.rule == "partner_left":
        values["hr_contact"] = programme.hr_contact_email if programme else None
    if job.rule == "nudge" and facts.activity is not None:
        values["days_quiet"] = facts.activity.days_quiet(now)
    moot = None
    if job.rule == "feedback_request" and facts.feedback_given:
        moot = "feedback already given for the session"
    return Draft(
        me.email,
        me.display_name,
        me.timezone,
        prefs,
        values,
        attachments,
        pair_ended=pair is not None and pair.state == "ended",
        pair_paused=pair is not None and pair.state == "paused",
        recipient_left=me.left_company,
        recipient_erased=me.erased,
        session_starts_at=session_start,
        moot=moot,
    )


def invitation(
    session: Session,
    me: Person,
    partner: Person | None,
    organizer: CalendarPerson | None = None,
    *,
    locale: str = "en",
) -> Attachment:
    """The session's calendar entry for the two of them: an invitation, or its cancellation, its SUMMARY in the
    recipient's language `locale` (the COMMENT is worded by the caller). Its ORGANIZER is the programme's sender
    address (Tandem sends the invitation and its updates: RFC 5546 wants the ORGANIZER to be who sends a REQUEST or
    CANCEL, and a reply goes there); both of them are ATTENDEEs."""
    people = [CalendarPerson(me.email, me.display_name)]
    if partner is not None:
        people.append(CalendarPerson(partner.email, partner.display_name))
    assert session.updated_at is not None
    lang = "de" if locale == "de" else "en"
    data = session_ics(
        session,
        dtstamp=session.updated_at,
        summary=session_summary(lang),
        organizer=organizer,
        attendees=people,
        language=lang,
    )
    method = "CANCEL" if session.status == "cancelled" else "REQUEST"
    return ("tandem-session.ics", f"text/calendar; method={method}", data)


# --- HR's weekly digest ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlaggedPair:
    """A live pair with an open reorganisation flag."""

    pair_id: str
    mentor_id: str
    mentee_id: str
    rule: str
    detail: str
    #: the reporting chain, by employee id
    chain: tuple[str, ...]
    since: datetime
    paused: bool


@dataclass(frozen=True)
class WaitingPartner:
    """Someone whose partner left the company, still in the programme, with no pair since."""

    pair_id: str
    name: str
    partner_name: str
    ended_at: datetime


@dataclass(frozen=True)
class DigestFacts:
    """What the projection knows of a programme's pairs that HR's digest reports on."""

    programme: Programme
    #: its active pairs
    pairs: tuple[PairActivity, ...] = ()
    flagged: tuple[FlaggedPair, ...] = ()
    waiting: tuple[WaitingPartner, ...] = ()
    #: display names by participant id, and by employee id (a reporting chain's people, where known here)
    names: Mapping[str, str] = field(default_factory=dict)
    employees: Mapping[str, str] = field(default_factory=dict)


def digest(facts: DigestFacts, now: datetime, locale: str) -> dict[str, list[dict[str, Any]]]:
    """What HR's weekly digest of a programme lists: quiet pairs (at risk), pairs a reorganisation flagged, and
    people whose partner left the company and who wait for a new one. Nothing in any list: no digest that week."""
    names = facts.names
    cadence = facts.programme.cadence_days
    flagged = []
    for f in facts.flagged:
        mentor_name, mentee_name = names.get(f.mentor_id, f.mentor_id), names.get(f.mentee_id, f.mentee_id)
        chain = [facts.employees.get(e, e) for e in f.chain]
        flagged.append(
            {
                "pair_id": f.pair_id,
                "mentor_name": mentor_name,
                "mentee_name": mentee_name,
                "rule": f.rule,
                "detail": wording.flag_detail(
                    f.rule, f.detail, locale, chain=chain, mentor_name=mentor_name, mentee_name=mentee_name
                ),
                "chain": chain,
                "since": day(f.since, locale),
                "paused": f.paused,
            }
        )
    return {
        "at_risk": [
            {
                "pair_id": p.pair_id,
                "mentor_name": names.get(p.mentor_id, p.mentor_id),
                "mentee_name": names.get(p.mentee_id, p.mentee_id),
                "days_quiet": p.days_quiet(now),
            }
            for p in facts.pairs
            if p.at_risk(now, cadence)
        ],
        "flagged": flagged,
        "waiting": [
            {"pair_id": w.pair_id, "name": w.name, "partner_name": w.partner_name, "ended_on": day(w.ended_at, locale)}
            for w in facts.waiting
        ],
    }


def has_news(facts: DigestFacts, now: datetime) -> bool:
    """Whether the digest lists anything this week (else none is sent)."""
    return any(digest(facts, now, "en").values())


def hr_draft(facts: DigestFacts, *, now: datetime, dashboard_url: str, console_url: str = "") -> Draft | None:
    """HR's digest of the programme, to its HR contact in the programme's HR language (`hr_locale`; English when
    it is not one the templates exist for), outside quiet hours; None without an HR contact."""
    programme = facts.programme
    if not programme.hr_contact_email:
        return None
    prefs = Preferences(locale="de" if programme.hr_locale == "de" else "en", quiet_start=None, quiet_end=None)
    values = {
        "programme_name": programme.name,
        "cadence_days": programme.cadence_days,
        **digest(facts, now, prefs.locale),
        "dashboard_url": dashboard_url,
        "console_url": console_url,
    }
    return Draft(programme.hr_contact_email, "HR", "UTC", prefs, values)
