"""Demo data, seeded through the public HTTP APIs only, as a real HR platform, HR team and pairs would.

The organisation: a directory of about 120 employees (a CEO, department heads, team leads, staff), synced
from the HR platform's export through the full-file upload. A pilot programme that started eight weeks ago:
three dozen of them enrolled by employee id, in eight departments and six languages; a match run accepted
(which keeps juniors away from seniors two levels up their own reporting line); agreements, goals and
AI-confidence checks, fortnightly sessions with feedback, and a few pairs that stopped meeting (at risk), so
a first look at the dashboard shows a living programme. Deterministic (seeded), and skipped when the
programme exists.

The pairs were matched eight weeks ago and began a week later (`started_on`): each of the two gets a note that their
tandem is now on Tandem, not a "you now form a pair" welcome. So that the demo mailbox (.tandem/mail/*.eml) shows
every rule of the notifications service, the demo also (`_every_rule`), through the same APIs:
- a session starting in 24 hours and a few minutes, and one in an hour and a few minutes: their 24 h and 1 h
  reminders, with the .ics attached, go out a few minutes after `make up`;
- leaves the mentor's feedback out for the last session of some pairs: the mentor gets a feedback request (ten
  minutes after the log, NOTIFICATIONS_FEEDBACK_GRACE_SECONDS); sessions both answered get none;
- cancels a session (session_cancelled, with the .ics CANCEL);
- a mentee leaves the company: the mentor hears of it (partner_left) and their next session is called off; HR then
  pairs that mentor by hand with a mentee the match run left unmatched: a new pair's welcome;
- ends a pair early as completed: both get the closing survey.
The pairs that stopped meeting get a nudge, and HR its weekly digest, at the dispatcher's next scan.

Quiet hours apply (everyone's default, 20:00-08:00 in their own zone): started in the evening or at night, the
24 h reminder waits until 08:00 and the 1 h reminder is skipped (quiet hours last until after that session starts);
nudges, feedback requests, the closing survey and the digest wait until 08:00; welcome, cancellation and partner-left
notes are mandatory and wait the same way. Start the demo in the daytime (08:00-19:00 Europe/Berlin) to see every
rule at once.
"""

from __future__ import annotations

import asyncio
import csv
import io
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx

DEMO_PROGRAMME = "demo-ai-2026"
TOPICS = ["prompt-writing", "office-copilots", "data-analysis", "ai-agents", "ai-risk-policy"]
DEPARTMENTS = ["Sales", "Finance", "Engineering", "Marketing", "Legal", "Operations", "HR", "Procurement"]
ZONES = {
    "de": "Europe/Berlin",
    "fr": "Europe/Paris",
    "en": "Europe/London",
    "es": "Europe/Madrid",
    "it": "Europe/Rome",
    "pl": "Europe/Warsaw",
}
MENTORS = [
    ("Lena Yilmaz", "de"), ("Jonas Becker", "de"), ("Aisha Khan", "en"), ("Lucas Martin", "fr"),
    ("Sofia García", "es"), ("Marco Rossi", "it"), ("Zofia Nowak", "pl"), ("Emma Schulz", "de"),
    ("Noah Fischer", "de"), ("Chloé Bernard", "fr"), ("Ethan Clarke", "en"), ("Mia Wagner", "de"),
    ("Leon Hoffmann", "de"), ("Olivia Brown", "en"), ("Hugo Lefèvre", "fr"), ("Giulia Bianchi", "it"),
]  # fmt: skip
MENTEES = [
    ("Dr. Ingrid Hoffmann", "de"), ("Michael Chen", "en"), ("Claire Dubois", "fr"), ("Thomas Müller", "de"),
    ("Catherine Walsh", "en"), ("Javier Moreno", "es"), ("Prof. Klaus Richter", "de"), ("Anna Kowalska", "pl"),
    ("Roberto Conti", "it"), ("Dr. Sabine Keller", "de"), ("Philippe Moreau", "fr"), ("Margaret Hughes", "en"),
    ("Stefan Braun", "de"), ("Elena Romano", "it"), ("Dr. Frank Weber", "de"), ("Isabel Ortega", "es"),
    ("Henrik Larsen", "en"), ("Ursula Vogel", "de"), ("Marie Laurent", "fr"), ("Andrzej Wiśniewski", "pl"),
]  # fmt: skip
TOOLS = ["ChatGPT", "Microsoft Copilot", "Gemini", "Claude", "Perplexity", "Power BI Copilot", "n8n"]


def _slug(name: str) -> str:
    return name.lower().replace("dr. ", "").replace("prof. ", "").split()[0]


def people(rnd: random.Random) -> list[dict[str, Any]]:
    out = []
    for k, (name, lang) in enumerate(MENTORS):
        topics = rnd.sample(TOPICS, rnd.randint(2, 3))
        out.append(
            {
                "participant_id": f"mentor-{k + 1:02d}",
                "employee_id": f"E-2{k:03d}",
                "role": "mentor",
                "display_name": name,
                "email": f"{_slug(name)}.{k}@acme.example",
                "locale": "de" if lang == "de" else "en",
                "department": rnd.choice(DEPARTMENTS),
                "grade": rnd.randint(2, 6),
                "timezone": ZONES[lang],
                "languages": sorted({lang, "en"}),
                "capacity": 2 if k < 4 else 1,
                "availability": [
                    {"weekday": rnd.randrange(5), "start": "09:00", "end": "12:00"},
                    {"weekday": rnd.randrange(5), "start": "14:00", "end": "17:00"},
                ],
                "teach_topics": {t: rnd.randint(2, 3) for t in topics},
            }
        )
    for k, (name, lang) in enumerate(MENTEES):
        topics = rnd.sample(TOPICS, rnd.randint(1, 3))
        out.append(
            {
                "participant_id": f"mentee-{k + 1:02d}",
                "employee_id": f"E-1{k:03d}",
                "role": "mentee",
                "display_name": name,
                "email": f"{_slug(name)}.{k}@acme.example",
                "locale": "de" if lang == "de" else "en",
                "department": rnd.choice(DEPARTMENTS),
                "grade": rnd.randint(11, 16),
                "timezone": ZONES[lang],
                "languages": sorted({lang, "en"}) if rnd.random() < 0.8 else [lang],
                "availability": [
                    {"weekday": rnd.randrange(5), "start": "08:00", "end": "12:00"},
                    {"weekday": rnd.randrange(5), "start": "13:00", "end": "18:00"},
                ],
                "learn_topics": {t: rnd.randint(1, 3) for t in topics},
                "goal": "Use AI for my own work, and judge what my teams do with it.",
            }
        )
    return out


DIRECTORY_COLUMNS = (
    "employee_id",
    "display_name",
    "email",
    "department",
    "grade",
    "manager_employee_id",
    "location",
    "timezone",
    "languages",
    "locale",
    "status",
    "hired_on",
)
PROFILE = ("display_name", "email", "locale", "department", "grade", "timezone", "languages")
STAFF_NAMES = [
    "Paul", "Julia", "Felix", "Laura", "Max", "Hannah", "David", "Sarah", "Tim", "Nina", "Ben", "Lea", "Jan",
    "Clara", "Finn", "Marie",
]  # fmt: skip
STAFF_SURNAMES = ["Weber", "Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz", "Zimmermann"]


def _staff(employee_id: str, name: str, department: str, grade: int, manager: str | None) -> dict[str, Any]:
    return {
        "employee_id": employee_id,
        "display_name": name,
        "department": department,
        "grade": grade,
        "manager_employee_id": manager,
        "languages": ["de", "en"],
        "locale": "de",
        "timezone": "Europe/Berlin",
    }


def directory(participants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The whole organisation around the participants: a CEO, a head per department, a team lead per
    department reporting to a senior participant of that department where there is one (so that a junior
    there sits two levels below that senior), and staff. Participants keep their own profile."""
    rnd = random.Random(7)

    def name() -> str:
        return f"{rnd.choice(STAFF_NAMES)} {rnd.choice(STAFF_SURNAMES)}"

    out = [_staff("E-0001", "Katharina Albers", "Executive", 20, None)]
    heads = {d: f"E-00{i + 10}" for i, d in enumerate(DEPARTMENTS)}
    leads = {d: f"E-30{i:02d}" for i, d in enumerate(DEPARTMENTS)}
    seniors = {p["department"]: p["employee_id"] for p in reversed(participants) if p["role"] == "mentee"}
    out += [_staff(heads[d], name(), d, 18, "E-0001") for d in DEPARTMENTS]
    out += [_staff(leads[d], name(), d, 10, seniors.get(d, heads[d])) for d in DEPARTMENTS]
    for p in participants:
        manager = heads[p["department"]] if p["role"] == "mentee" else leads[p["department"]]
        out.append({**{k: p[k] for k in PROFILE}, "employee_id": p["employee_id"], "manager_employee_id": manager})
    for k in range(64):
        d = DEPARTMENTS[k % len(DEPARTMENTS)]
        out.append(
            _staff(f"E-4{k:03d}", f"{STAFF_NAMES[k % 16]} {STAFF_SURNAMES[k // 8]}", d, rnd.randint(3, 9), leads[d])
        )
    for e in out:
        e.setdefault("email", f"{e['display_name'].split()[0].lower()}.{e['employee_id'].lower()}@acme.example")
        e.update(location=e["timezone"].split("/")[1], status="active", hired_on="2021-04-01")
    return out


def directory_csv(employees: list[dict[str, Any]]) -> str:
    """The organisation as the HR platform exports it (the file format of `tandem hr import`)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=DIRECTORY_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for e in employees:
        writer.writerow(
            {**e, "languages": "; ".join(e["languages"]), "manager_employee_id": e["manager_employee_id"] or ""}
        )
    return buf.getvalue()


async def _ok(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        raise RuntimeError(f"demo seeding failed: {r.request.method} {r.request.url}: {r.status_code} {r.text}")
    return r.json()


Tokens = Callable[[str | None], str]


def demo_people() -> list[dict[str, Any]]:
    """The demo's participants (name, e-mail, employee id): the local sign-in provider lists them."""
    return people(random.Random(2026))


async def seed(urls: dict[str, str], *, tokens: Tokens, integration_token: str, today: date | None = None) -> str:
    """Seed the demo as real callers would: `tokens(None)` is HR's access token, `tokens(employee_id)` a
    participant's (each gives their own feedback); `integration_token` the HR platform's (the directory)."""
    rnd = random.Random(2026)
    today = today or datetime.now(UTC).date()
    start = today - timedelta(weeks=8)
    hr = {"authorization": f"Bearer {tokens(None)}"}
    async with httpx.AsyncClient(base_url=urls["pairing"], timeout=60, headers=hr) as pairing:
        if (await pairing.get(f"/programmes/{DEMO_PROGRAMME}")).status_code == 200:
            return f"programme {DEMO_PROGRAMME} already seeded"
        everyone = people(rnd)
        org = directory(everyone)
        synced = await _ok(
            await pairing.post(
                "/directory/imports",
                params={"complete": "true"},
                content=directory_csv(org),
                headers={"content-type": "text/csv", "authorization": f"Bearer {integration_token}"},
            )
        )
        await _ok(
            await pairing.post(
                "/programmes",
                json={
                    "programme_id": DEMO_PROGRAMME,
                    "name": "AI reverse mentoring 2026 · pilot",
                    "starts_on": start.isoformat(),
                    "ends_on": (start + timedelta(weeks=26)).isoformat(),
                    "cadence_days": 14,
                    "focus_topics": TOPICS,
                    "hr_contact_email": "mentoring@acme.example",
                    "launch": True,
                    "matching_policy": {"objective": "max_matched", "reporting_line_levels": 2},
                },
            )
        )
        enrolments = [{k: v for k, v in p.items() if k not in PROFILE} for p in everyone]
        await _ok(await pairing.post(f"/programmes/{DEMO_PROGRAMME}/participants/bulk", json=enrolments))
        run = await _ok(await pairing.post(f"/programmes/{DEMO_PROGRAMME}/match-runs", json={}))
        pairs = await _ok(
            await pairing.post(
                f"/match-runs/{run['match_run_id']}/accept",
                json={"started_on": (start + timedelta(days=7)).isoformat()},
            )
        )
    learn = {p["participant_id"]: list(p.get("learn_topics", {})) for p in everyone}
    employee = {p["participant_id"]: p["employee_id"] for p in everyone}

    def as_person(participant_id: str) -> dict[str, str]:
        return {"authorization": f"Bearer {tokens(employee[participant_id])}"}

    async with httpx.AsyncClient(base_url=urls["sessions"], timeout=60, headers=hr) as sessions:
        for pair in pairs:  # the sessions service learns of the pairs from the log
            for _ in range(400):
                if (await sessions.get(f"/pairs/{pair['pair_id']}")).status_code == 200:
                    break
                await asyncio.sleep(0.05)
        for n, pair in enumerate(pairs):
            await _pair_history(sessions, pair, n, start, today, learn[pair["mentee_id"]] or TOPICS[:1], rnd, as_person)
    async with (
        httpx.AsyncClient(base_url=urls["pairing"], timeout=60, headers=hr) as pairing,
        httpx.AsyncClient(base_url=urls["sessions"], timeout=60, headers=hr) as sessions,
    ):
        await _every_rule(pairing, sessions, pairs, run["unmatched"], as_person)
    return (
        f"directory of {synced['hired']} employees; programme {DEMO_PROGRAMME}: {len(everyone)} participants, "
        f"{len(pairs)} pairs, {len(run['unmatched'])} unmatched with reasons"
    )


def at_risk_pair(n: int) -> bool:
    return n % 7 == 3


#: The demo's pairs (by their place in the accepted list) that show one rule each (`_every_rule`): never an at-risk one.
REMIND_24H, REMIND_1H, CANCELLED, LEAVER, COMPLETED = 0, 1, 2, 4, 5


def mentor_skips_feedback(n: int) -> bool:
    """Pairs whose mentor has not answered for their last session yet (and gets a feedback request)."""
    return n % 4 == 1


async def _every_rule(
    pairing: httpx.AsyncClient,
    sessions: httpx.AsyncClient,
    pairs: list[dict[str, Any]],
    unmatched: list[dict[str, Any]],
    as_person: Callable[[str], dict[str, str]],
) -> None:
    """What makes the demo mailbox show every rule (see the module's doc)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for n, ahead in ((REMIND_24H, timedelta(hours=24, minutes=3)), (REMIND_1H, timedelta(hours=1, minutes=3))):
        if n < len(pairs):
            pid = pairs[n]["pair_id"]
            await _ok(
                await sessions.post(
                    f"/pairs/{pid}/sessions",
                    json={"starts_at": (now + ahead).isoformat(), "duration_minutes": 45, "agenda": "A first agent"},
                )
            )
    if len(pairs) > CANCELLED:
        pair = pairs[CANCELLED]
        pid = pair["pair_id"]
        when = datetime.combine(now.date() + timedelta(days=9), time(13, 0), tzinfo=UTC)
        r = await _ok(
            await sessions.post(
                f"/pairs/{pid}/sessions", json={"starts_at": when.isoformat(), "duration_minutes": 45, "agenda": "Q&A"}
            )
        )
        sid = r["events"][0]["data"]["session_id"]
        await _ok(
            await sessions.post(
                f"/pairs/{pid}/sessions/{sid}/cancel",
                json={"reason": "Board meeting moved; let's find a new date"},
                headers=as_person(pair["mentee_id"]),
            )
        )
    if len(pairs) > LEAVER:
        pair = pairs[LEAVER]
        await _ok(await pairing.post(f"/participants/{pair['mentee_id']}/withdraw", json={"reason": "left_company"}))
        free = [u["participant_id"] for u in unmatched if u["role"] == "mentee"]
        await _late_joiner(pairing, pair["mentor_id"], free)
    if len(pairs) > COMPLETED:
        pid = pairs[COMPLETED]["pair_id"]
        await _ok(await pairing.post(f"/pairs/{pid}/end", json={"reason": "completed", "note": ""}))


async def _late_joiner(pairing: httpx.AsyncClient, mentor_id: str, unmatched: list[str]) -> None:
    """HR pairs the mentor by hand with a mentee left unmatched, or else with a department head who joins late (from
    the directory): a pair that begins now, so its welcome proposes a first meeting."""
    candidates: list[str | None] = [*unmatched, *[None] * len(DEPARTMENTS)]
    for k, mentee_id in enumerate(candidates):
        if mentee_id is None:
            head = k - len(unmatched)
            mentee_id = f"mentee-late-{head + 1}"
            joined = await pairing.post(
                f"/programmes/{DEMO_PROGRAMME}/participants",
                json={
                    "participant_id": mentee_id,
                    "employee_id": f"E-00{head + 10}",
                    "role": "mentee",
                    "availability": [{"weekday": 2, "start": "08:00", "end": "12:00"}],
                    "learn_topics": {"ai-agents": 3, "prompt-writing": 2},
                    "goal": "Judge what AI agents can do for my department.",
                },
            )
            if joined.status_code >= 400:
                continue
        made = await pairing.post(
            "/pairs", json={"programme_id": DEMO_PROGRAMME, "mentor_id": mentor_id, "mentee_id": mentee_id}
        )
        if made.status_code < 400:  # else a hard rule keeps them apart: the next one
            return


async def _pair_history(
    api: httpx.AsyncClient,
    pair: dict[str, Any],
    n: int,
    start: date,
    today: date,
    topics: list[str],
    rnd: random.Random,
    as_person: Callable[[str], dict[str, str]],
) -> None:
    pid, mentor, mentee = pair["pair_id"], pair["mentor_id"], pair["mentee_id"]
    for who in (mentee, mentor):
        await _ok(
            await api.post(
                f"/pairs/{pid}/agreement",
                json={
                    "participant_id": who,
                    "meeting_rhythm": "every two weeks, 45 minutes",
                    "confidentiality": True,
                    "learning_focus": ", ".join(t.replace("-", " ") for t in topics),
                },
            )
        )
    goals = []
    for topic in topics[:2]:
        r = await _ok(
            await api.post(
                f"/pairs/{pid}/goals",
                json={"topic": topic, "description": f"Use {topic.replace('-', ' ')} in my weekly work"},
            )
        )
        goals.append(r["events"][0]["data"]["goal_id"])
    await _ok(
        await api.post(
            f"/pairs/{pid}/confidence",
            json={"participant_id": mentee, "phase": "start", "ratings": {t: rnd.randint(1, 2) for t in topics}},
        )
    )
    at_risk = at_risk_pair(n)  # a few pairs stopped meeting after their first session
    meetings = 1 if at_risk else rnd.choice([3, 4])
    first = datetime.combine(start + timedelta(days=8 + rnd.randrange(4)), time(10, 0), tzinfo=UTC)
    for k in range(meetings):
        when = first + timedelta(days=14 * k + rnd.randrange(3))
        if when.date() >= today:
            break
        r = await _ok(
            await api.post(
                f"/pairs/{pid}/sessions",
                json={
                    "starts_at": when.isoformat(),
                    "duration_minutes": 45,
                    "agenda": "Hands-on: " + topics[k % len(topics)],
                },
            )
        )
        sid = r["events"][0]["data"]["session_id"]
        await _ok(
            await api.post(
                f"/pairs/{pid}/sessions/{sid}/log",
                json={
                    "held_at": when.isoformat(),
                    "minutes": rnd.choice([40, 45, 50, 60]),
                    "topics": [topics[k % len(topics)]],
                    "tools": rnd.sample(TOOLS, 2),
                    "action_items": ["Try it on a real task this week"],
                },
            )
        )
        await _ok(
            await api.post(
                f"/pairs/{pid}/feedback",
                json={
                    "author_id": mentee,
                    "session_id": sid,
                    "rating": rnd.choice([4, 4, 5, 5, 3]),
                    "productivity_gain": rnd.random() < 0.8,
                    "minutes_saved_per_day": rnd.choice([15, 30, 45, 60, 60, 90]),
                    "new_business_opportunity": (nb := rnd.random() < 0.6),
                    "opportunity_text": "An AI-assisted offer for a key account" if nb else None,
                },
                headers=as_person(mentee),
            )
        )
        if k == meetings - 1 and mentor_skips_feedback(n):
            continue  # the mentor has not answered for the last session yet: they get a feedback request
        await _ok(
            await api.post(
                f"/pairs/{pid}/feedback",
                json={
                    "author_id": mentor,
                    "session_id": sid,
                    "rating": rnd.choice([4, 5, 5]),
                    "team_productivity_gain": rnd.random() < 0.75,
                    "career_benefit": rnd.random() < 0.8,
                },
                headers=as_person(mentor),
            )
        )
    if not at_risk and meetings >= 2:
        for goal_id in goals[:1]:
            await _ok(await api.post(f"/pairs/{pid}/goals/{goal_id}/achieve"))
        await _ok(
            await api.post(
                f"/pairs/{pid}/confidence",
                json={"participant_id": mentee, "phase": "end", "ratings": {t: rnd.randint(3, 5) for t in topics}},
            )
        )
    # the next session is on the calendar (and gets reminders)
    if not at_risk:
        upcoming = datetime.combine(today + timedelta(days=2 + n % 5), time(10, 0), tzinfo=UTC)
        await _ok(
            await api.post(
                f"/pairs/{pid}/sessions",
                json={"starts_at": upcoming.isoformat(), "duration_minutes": 45, "agenda": "Next steps"},
            )
        )
