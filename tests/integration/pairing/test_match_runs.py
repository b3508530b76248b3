"""Match runs over the real stack: proposals with rationale, accept, consent, decline, rematch."""

from __future__ import annotations

import json
from typing import Any

import httpx

from services.pairing.app import SPEC as PAIRING
from shared.events import decode
from shared.infra import Infra
from shared.outbox import wait_published
from tests import auth, builders
from tests.conftest import Running, ServeFactory
from tests.directory import enrol, pair, provision
from tests.kafka_helpers import eventually, read_topic, topic_keys


async def _setup(
    client: httpx.AsyncClient, svc: Running, n_mentors: int, n_mentees: int, **programme: Any
) -> tuple[str, list, list]:
    r = await client.post("/programmes", json=builders.programme(**programme))
    assert r.status_code == 201, r.text
    programme_id = r.json()["programme_id"]
    mentors = [builders.mentor(display_name=f"Mentor {i}") for i in range(n_mentors)]
    mentees = [builders.mentee(display_name=f"Mentee {i}") for i in range(n_mentees)]
    r = await enrol(client, svc.url, svc.host, programme_id, mentors + mentees)
    assert r.status_code == 201, r.text
    return programme_id, mentors, mentees


async def test_a_match_run_explains_itself_and_accepted_proposals_become_pairs(
    serve: ServeFactory, infra: Infra
) -> None:
    svc = await serve(PAIRING)
    async with auth.client(base_url=svc.url) as client:
        programme_id, _mentors, _mentees = await _setup(client, svc, 3, 4)
        r = await client.post(f"/programmes/{programme_id}/match-runs", json={})
        assert r.status_code == 201, r.text
        run = r.json()
        assert run["algorithm_version"] == "lsa-1"
        assert len(run["proposals"]) == 3
        assert all(p["rationale"].startswith("Covers") for p in run["proposals"])
        # the rationale as reasons with stable codes, for the HR console to word in de or en
        assert all(p["reasons"][0]["code"] == "covers_goals" for p in run["proposals"])
        assert all({"shared_languages", "grade_gap"} <= {r["code"] for r in p["reasons"]} for p in run["proposals"])
        listed = (await client.get(f"/programmes/{programme_id}/match-runs")).json()
        assert [p["reasons"] for p in listed[0]["proposals"]] == [p["reasons"] for p in run["proposals"]]
        [left] = run["unmatched"]
        assert left["reason_code"] == "capacity_exhausted"
        assert left["role"] == "mentee"

        first = run["proposals"][0]["proposal_id"]
        r = await client.post(f"/match-runs/{run['match_run_id']}/accept", json={"proposal_ids": [first]})
        assert r.status_code == 200, r.text
        [pair] = r.json()
        assert (pair["state"], pair["origin"], pair["match_run_id"]) == ("active", "match_run", run["match_run_id"])
        assert pair["reasons"] == run["proposals"][0]["reasons"]
        assert (await client.get(f"/pairs/{pair['pair_id']}")).json()["reasons"] == pair["reasons"]
        again = await client.post(f"/match-runs/{run['match_run_id']}/accept", json={"proposal_ids": [first]})
        assert again.status_code == 409
        rest = await client.post(f"/match-runs/{run['match_run_id']}/accept", json={})
        assert len(rest.json()) == 2
        assert (await client.get(f"/programmes/{programme_id}")).json()["state"] == "running"

        # a second run only looks at who is still free: one mentee, no seat left
        r = await client.post(f"/programmes/{programme_id}/match-runs", json={})
        second = r.json()
        assert second["proposals"] == []
        assert [u["reason_code"] for u in second["unmatched"]] == ["capacity_exhausted"]

    records = await read_topic(infra.kafka_bootstrap, svc.host.topics.pairing, expect=3 + 7 + 2 + 3)
    runs = [r for r in records if dict(r.headers)["ce_type"] == b"tandem.pairing.MatchRunCompleted"]
    assert len(runs) == 2
    created = [r for r in records if dict(r.headers)["ce_type"] == b"tandem.pairing.PairCreated"]
    assert len(created) == 3
    assert all(r.key for r in created)
    keys = await topic_keys(infra.kafka_bootstrap, svc.host.topics.keys)  # rationales name people: encrypted
    assert all(b"covers_goals" not in r.value for r in created)
    assert all(decode(r.headers, r.value, keys).data.reasons[0].code == "covers_goals" for r in created)
    assert all(p.reasons for p in decode(runs[0].headers, runs[0].value, keys).data.proposals)


async def test_consent_first_then_decline_frees_both_for_the_next_run(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    async with auth.client(base_url=svc.url) as client:
        programme_id, mentors, mentees = await _setup(client, svc, 1, 1, requires_consent=True)
        run = (await client.post(f"/programmes/{programme_id}/match-runs", json={})).json()
        [pair] = (await client.post(f"/match-runs/{run['match_run_id']}/accept", json={})).json()
        assert pair["state"] == "proposed"
        assert pair["consent_deadline"]
        mentee_id, mentor_id = mentees[0]["participant_id"], mentors[0]["participant_id"]
        as_person = {mentee_id: auth.of(mentees[0]), mentor_id: auth.of(mentors[0])}  # each answers for themselves

        hr_answers = await client.post(
            f"/pairs/{pair['pair_id']}/consent", json={"participant_id": mentee_id, "decision": "accept"}
        )
        assert hr_answers.status_code == 403  # HR cannot consent for someone
        r = await client.post(
            f"/pairs/{pair['pair_id']}/consent",
            json={"participant_id": mentee_id, "decision": "accept"},
            headers=as_person[mentee_id],
        )
        assert r.json()["state"] == "proposed"
        r = await client.post(
            f"/pairs/{pair['pair_id']}/consent",
            json={"participant_id": mentor_id, "decision": "decline"},
            headers=as_person[mentor_id],
        )
        assert r.json()["state"] == "declined"

        rerun = (await client.post(f"/programmes/{programme_id}/match-runs", json={})).json()
        assert len(rerun["proposals"]) == 1  # both free again
        [pair2] = (await client.post(f"/match-runs/{rerun['match_run_id']}/accept", json={})).json()
        for who in (mentee_id, mentor_id):
            r = await client.post(
                f"/pairs/{pair2['pair_id']}/consent",
                json={"participant_id": who, "decision": "accept"},
                headers=as_person[who],
            )
        assert r.json()["state"] == "active"
        stranger = await client.post(
            f"/pairs/{pair2['pair_id']}/consent",
            json={"participant_id": mentor_id, "decision": "accept"},
            headers=as_person[mentor_id],
        )
        assert stranger.status_code == 409  # no longer a proposal


async def test_rematch_proposes_a_new_partner_for_whoever_remains(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    async with auth.client(base_url=svc.url) as client:
        programme_id, _mentors, mentees = await _setup(client, svc, 2, 1)
        run = (await client.post(f"/programmes/{programme_id}/match-runs", json={})).json()
        [pair] = (await client.post(f"/match-runs/{run['match_run_id']}/accept", json={})).json()
        early = await client.post(f"/pairs/{pair['pair_id']}/rematch")
        assert early.status_code == 409
        await client.post(f"/pairs/{pair['pair_id']}/end", json={"reason": "rematched", "note": "no chemistry"})
        r = await client.post(f"/pairs/{pair['pair_id']}/rematch")
        assert r.status_code == 201, r.text
        rematch = r.json()
        assert rematch["kind"] == "rematch"
        [proposal] = rematch["proposals"]
        assert proposal["mentee_id"] == mentees[0]["participant_id"]
        [new_pair] = (await client.post(f"/match-runs/{rematch['match_run_id']}/accept", json={})).json()
        assert new_pair["origin"] == "rematch"


async def test_a_hand_made_pair_with_a_low_score_carries_a_warning(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    async with auth.client(base_url=svc.url) as client:
        r = await client.post("/programmes", json=builders.programme())
        programme_id = r.json()["programme_id"]
        mentor = builders.mentor(teach_topics={"ai-risk-policy": 1}, department="Finance", grade=13, availability=[])
        mentee = builders.mentee(availability=[])
        assert (await enrol(client, svc.url, svc.host, programme_id, [mentor, mentee])).status_code == 201
        r = await pair(client, programme_id, mentor["participant_id"], mentee["participant_id"])
        assert r.status_code == 201, r.text
        assert r.json()["warnings"]
        assert "low compatibility score" in r.json()["warnings"][0]
        assert r.json()["score"] < 40


async def test_a_policy_the_engine_cannot_run_is_refused_at_creation(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    async with auth.client(base_url=svc.url) as client:
        zero = {"weights": {"topic_coverage": 0, "availability": 0, "cross_department": 0, "seniority_gap": 0}}
        r = await client.post("/programmes", json=builders.programme(matching_policy=zero))
        assert r.status_code == 422
        assert r.json()["error"]["field"] == "matching_policy"
        bad = await client.post("/programmes", json=builders.programme(matching_policy={"objective": "fastest"}))
        assert bad.status_code == 422
        assert "objective" in bad.json()["error"]["field"]


async def test_a_pair_extended_past_the_end_still_completes(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    async with auth.client(base_url=svc.url) as client:
        programme_id, _, _ = await _setup(client, svc, 1, 1)
        run = (await client.post(f"/programmes/{programme_id}/match-runs", json={})).json()
        [pair] = (await client.post(f"/match-runs/{run['match_run_id']}/accept", json={})).json()
        too_early = await client.post(f"/pairs/{pair['pair_id']}/extend", json={"until": "2026-05-01"})
        assert too_early.status_code == 422
        assert too_early.json()["error"]["field"] == "until"
        r = await client.post(f"/pairs/{pair['pair_id']}/extend", json={"until": "2026-09-30"})
        assert r.json()["extended_until"] == "2026-09-30"
        done = await client.post(f"/pairs/{pair['pair_id']}/end", json={"reason": "completed"})
        assert (done.json()["state"], done.json()["end_reason"]) == ("ended", "completed")


async def test_a_run_with_its_own_policy_uses_it_records_it_and_leaves_the_programme_alone(
    serve: ServeFactory, infra: Infra
) -> None:
    svc = await serve(PAIRING)
    async with auth.client(base_url=svc.url) as client:
        programme_id, _mentors, mentees = await _setup(client, svc, 2, 2)
        runs_url = f"/programmes/{programme_id}/match-runs"
        first = (await client.post(runs_url, json={})).json()
        assert len(first["proposals"]) == 2
        assert first["policy"]["min_score"] == 0
        best = max(p["score"] for p in first["proposals"])
        assert best < 100

        # a stricter minimum score for this run only: nobody reaches it, each mentee says why
        strict = best + 1
        r = await client.post(runs_url, json={"policy": {"min_score": strict, "weights": {"availability": 0.3}}})
        assert r.status_code == 201, r.text
        run = r.json()
        assert run["proposals"] == []
        reasons = {u["participant_id"]: u["reason_code"] for u in run["unmatched"] if u["role"] == "mentee"}
        assert reasons == {m["participant_id"]: "no_compatible_candidate" for m in mentees}
        # the whole policy it ran under: the changed fields, the rest the programme's (weights one by one)
        used = (await client.get(f"/match-runs/{run['match_run_id']}")).json()["policy"]
        assert used["min_score"] == strict
        assert used["weights"] == {
            "topic_coverage": 0.5,
            "availability": 0.3,
            "cross_department": 0.15,
            "seniority_gap": 0.15,
        }
        assert {k: v for k, v in used.items() if k not in ("min_score", "weights")} == {
            k: v for k, v in first["policy"].items() if k not in ("min_score", "weights")
        }
        listed = {r["match_run_id"]: r["policy"] for r in (await client.get(runs_url)).json()}
        assert listed[run["match_run_id"]] == used

        # the programme's policy is unchanged, and the next run without changes uses it again
        assert (await client.get(f"/programmes/{programme_id}")).json()["matching_policy"]["min_score"] == 0
        again = (await client.post(runs_url, json={"policy": {}})).json()
        assert len(again["proposals"]) == 2
        assert again["policy"] == first["policy"]

    await wait_published(svc.host.pool)

    async def completed() -> dict[str, Any] | None:
        records = await read_topic(infra.kafka_bootstrap, svc.host.topics.pairing, expect=1)
        for record in records:
            data = json.loads(record.value)
            kind = dict(record.headers)["ce_type"]
            if kind == b"tandem.pairing.MatchRunCompleted" and data["match_run_id"] == run["match_run_id"]:
                return dict(data)
        return None

    event = await eventually(completed)
    assert event["policy"] == used  # the event carries it too, for auditors replaying the log


async def test_a_policy_change_the_run_cannot_take_is_refused_naming_the_field_and_no_run_is_made(
    serve: ServeFactory,
) -> None:
    svc = await serve(PAIRING)
    async with auth.client(base_url=svc.url) as client:
        programme_id, _, _ = await _setup(client, svc, 1, 1)
        runs_url = f"/programmes/{programme_id}/match-runs"
        zero = {"topic_coverage": 0, "availability": 0, "cross_department": 0, "seniority_gap": 0}
        refused = {
            "policy.min_score": {"policy": {"min_score": 150}},
            "policy.min_overlap_minutes": {"policy": {"min_overlap_minutes": -30}},
            "policy.reporting_line_levels": {"policy": {"reporting_line_levels": 1.5}},
            "policy.objective": {"policy": {"objective": "fastest"}},
            "policy.min_scor": {"policy": {"min_scor": 10}},  # unknown field
            "policy.weights.availability": {"policy": {"weights": {"availability": -1}}},
            "policy.weights.charm": {"policy": {"weights": {"charm": 1}}},
            "policy.weights": {"policy": {"weights": zero}},  # the engine needs weights adding up to more than 0
            "policy.flagged_pairs": {"policy": {"flagged_pairs": "keep_running"}},  # the programme's, not a run's
            "policy.never_pair.0.1": {"policy": {"never_pair": [["only-one"]]}},  # a pair of two ids
            "policy.must_pair": {"policy": {"must_pair": None}},
        }
        for field, body in refused.items():
            r = await client.post(runs_url, json=body)
            assert r.status_code == 422, (field, r.text)
            error = r.json()["error"]
            assert error["field"] == field, (body, error)
            assert error["message"].startswith(f"{field}: "), error
        both = await client.post(
            runs_url, json={"objective": "max_matched", "policy": {"objective": "max_total_score"}}
        )
        assert both.status_code == 422
        assert both.json()["error"]["field"] == "policy.objective"
        assert "give the objective once" in both.json()["error"]["message"]
        assert (await client.get(runs_url)).json() == []  # nothing was run


async def test_a_deeper_reporting_line_rule_for_one_run_reads_the_org_chart_that_deep(serve: ServeFactory) -> None:
    """The mentor reports to someone who reports to the mentee: two levels apart. The programme's rule (one level)
    lets them pair; a run with two levels must read the chart two levels up and refuse them."""
    svc = await serve(PAIRING)
    async with auth.client(base_url=svc.url) as client:
        policy = {"reporting_line_levels": 1}
        r = await client.post("/programmes", json=builders.programme(matching_policy=policy))
        programme_id = r.json()["programme_id"]
        mentee = builders.mentee()
        middle = builders.mentor(display_name="Tom Berger", manager_employee_id=mentee["employee_id"])
        mentor = builders.mentor(manager_employee_id=middle["employee_id"])
        await provision(client, svc.url, svc.host, [mentee, middle])
        assert (await enrol(client, svc.url, svc.host, programme_id, [mentor, mentee])).status_code == 201
        runs_url = f"/programmes/{programme_id}/match-runs"

        deeper = (await client.post(runs_url, json={"policy": {"reporting_line_levels": 2}})).json()
        assert deeper["proposals"] == []
        [left] = [u for u in deeper["unmatched"] if u["role"] == "mentee"]
        assert left["reason_code"] == "reporting_line"
        assert deeper["policy"]["reporting_line_levels"] == 2

        programmes_own = (await client.post(runs_url, json={})).json()
        assert len(programmes_own["proposals"]) == 1
        assert programmes_own["policy"]["reporting_line_levels"] == 1
