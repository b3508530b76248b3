"""One fold of a pair's history: for random histories the services can publish, the aggregate (as the
write model loads it), the read model's bulk replay (in any interleaving of the two topics) and the audit
view all come to the same state; the programmes and participants the read model keeps are the domain's.
The per-event projection joins them in tests/integration/sessions/test_fold_equivalence.py (Postgres)."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.pairing import audit as _pairing_audit  # noqa: F401  (both views, as `tandem audit` has them)
from services.sessions import audit as sessions_audit
from services.sessions import rows
from services.sessions.bulk import SessionsBulk
from services.sessions.domain import references as ref
from services.sessions.domain.model import Mentorship, PairView
from services.sessions.projection import PAIR_STATE
from shared import audit as a
from shared.events import pairing as p
from tests.histories import History, histories, interleaved, references

#: The tables of a pair's state (programmes and participants are not part of it).
TABLES = ("pairs", "pair_changes", "agreements", "goals", "confidence", "sessions", "feedback")
#: The tables of what the sessions service keeps of the pairing service's programmes and participants.
REFERENCE_TABLES = ("programmes", "participants")


def aggregate(h: History) -> Mentorship:
    """The pair's aggregate as the write model loads it: from its pair and its events with their times."""
    created = h.envelopes[0]
    return Mentorship.from_history(
        PairView.from_created(created.data, created.time), [(e.data, e.time) for e in h.envelopes[1:]]
    )


def normal(table: str, found: list[Any]) -> list[str]:
    """Rows of a table in a comparable form (the columns of rows.COLUMNS, in order, as sorted JSON)."""
    out = []
    for row in found:
        values = {c: row[c] for c in rows.COLUMNS[table]}
        out.append(json.dumps(values, default=str, sort_keys=True))
    return sorted(out)


def expected(h: History) -> dict[str, list[str]]:
    """The rows of the pair's state, from the aggregate (and its pair changes, from the log)."""
    m, t = aggregate(h), h.tenant
    changes = [
        {"tenant": t, "event_id": e.id, "pair_id": e.data.pair_id, "at": e.time, "kind": PAIR_STATE[e.type]}
        for e in h.envelopes
        if e.type in PAIR_STATE
    ]
    return {
        "pairs": normal("pairs", [rows.pair_row(t, m.pair)]),
        "pair_changes": normal("pair_changes", changes),
        "agreements": normal("agreements", [rows.agreement_row(t, x) for x in m.agreement.values()]),
        "goals": normal("goals", [rows.goal_row(t, x) for x in m.goals.values()]),
        "confidence": normal("confidence", [rows.confidence_row(t, x) for x in m.confidence.values()]),
        "sessions": normal("sessions", [rows.session_row(t, x) for x in m.sessions.values()]),
        "feedback": normal("feedback", [rows.feedback_row(t, x) for x in m.feedback.values()]),
    }


def merged(*tables: dict[str, list[str]]) -> dict[str, list[str]]:
    return {table: sorted(row for t in tables for row in t[table]) for table in tables[0]}


@settings(max_examples=300, deadline=None)
@given(histories(tenant="default"), histories(tenant="acme"), st.randoms(use_true_random=False))
def test_aggregate_bulk_replay_and_audit_fold_every_history_alike(
    h: History, other: History, rnd: random.Random
) -> None:
    """`other` is another tenant's pair with the very same ids: each tenant's rows are its own."""
    bulk = SessionsBulk()
    assert all(bulk.apply(env) for env in interleaved(rnd, h, other))  # nothing a published history is refused
    assert {table: normal(table, bulk.rows(table)) for table in TABLES} == merged(expected(h), expected(other))

    for each in (h, other):
        m = aggregate(each)
        log = a.for_reader(
            [a.Logged(env, "topic", 0, i) for i, env in enumerate(interleaved(rnd, h, other))],
            each.tenant,
            confidential=True,
        )
        audited = a.state_as_of(log, each.pair_id, None, a.registered(each.tenant))
        assert audited["kind"] == "pair"
        assert audited["state"] == m.pair.state  # the pairing service's state machine agrees with the sessions'
        assert audited["created_at"] == (m.pair.created_at and m.pair.created_at.isoformat())
        assert {k: audited[k] for k in sessions_audit.view(m.state)} == sessions_audit.view(m.state)


def expected_references(envelopes: list[Any]) -> dict[str, list[str]]:
    """The programmes and participants the sessions domain keeps after these pairing events."""
    programmes: dict[str, ref.ProgrammeView] = {}
    participants: dict[str, ref.ParticipantView] = {}
    tenant = envelopes[0].tenant if envelopes else "default"
    for env in envelopes:
        e = env.data
        if isinstance(e, p.ProgramLaunched | p.ProgramClosed):
            programme = ref.evolve_programme(programmes.get(e.programme_id), e)
            if programme is not None:
                programmes[e.programme_id] = programme
        else:
            participant = ref.evolve_participant(participants.get(e.participant_id), e)
            if participant is not None:
                participants[e.participant_id] = participant
    return {
        "programmes": normal("programmes", [rows.programme_row(tenant, x) for x in programmes.values()]),
        "participants": normal("participants", [rows.participant_row(tenant, x) for x in participants.values()]),
    }


@settings(max_examples=200, deadline=None)
@given(references())
def test_bulk_replay_keeps_programmes_and_participants_as_the_domain_evolves_them(envelopes: list[Any]) -> None:
    bulk = SessionsBulk()
    assert all(bulk.apply(env) for env in envelopes)
    assert {t: normal(t, bulk.rows(t)) for t in REFERENCE_TABLES} == expected_references(envelopes)
