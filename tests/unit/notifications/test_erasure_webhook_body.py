"""An outbound webhook delivery's body loses what erasure or retention shreds in the log, and nothing else."""

from __future__ import annotations

import json

from services.notifications.domain.erasure import scrubbed_body
from services.notifications.domain.webhooks import body
from shared.events import Envelope
from shared.events.pairing import MatchRunCompleted, PairCreated, Proposal
from shared.events.sessions import FeedbackSubmitted
from shared.personal import PLACEHOLDER


def test_the_erased_pair_and_person_go_and_the_rest_stays() -> None:
    created = body(
        Envelope.new(
            PairCreated(
                pair_id="pair-1",
                programme_id="prog-1",
                mentor_id="mentor-1",
                mentee_id="mentee-1",
                rationale="covers Ingrid's goal",
                reasons=[{"code": "covers_goals", "mentee": "Ingrid"}],
            ),
            tenant="t",
        )
    )
    assert scrubbed_body(created, scope_ids={"other-pair"}) is None  # not theirs: untouched
    data = json.loads(scrubbed_body(created, scope_ids={"pair-1", "mentee-1"}) or "")["data"]
    assert (data["rationale"], data["reasons"]) == (PLACEHOLDER, [])
    assert (data["pair_id"], data["mentor_id"], data["mentee_id"]) == ("pair-1", "mentor-1", "mentee-1")

    run = body(
        Envelope.new(
            MatchRunCompleted(
                match_run_id="run-1",
                programme_id="prog-1",
                algorithm_version="1",
                objective="max_total_score",
                policy={},
                proposals=[
                    Proposal(proposal_id="x", mentor_id="mentor-1", mentee_id="mentee-1", score=1, rationale="Ingrid"),
                    Proposal(proposal_id="y", mentor_id="mentor-2", mentee_id="mentee-2", score=1, rationale="Olaf"),
                ],
                unmatched=[],
                total_score=2,
            ),
            tenant="t",
        )
    )
    proposals = json.loads(scrubbed_body(run, scope_ids={"mentee-1"}) or "")["data"]["proposals"]
    assert [p["rationale"] for p in proposals] == [PLACEHOLDER, "Olaf"]


def test_retention_takes_the_text_of_the_programme_only() -> None:
    def feedback(programme_id: str) -> str:
        return body(
            Envelope.new(
                FeedbackSubmitted(
                    feedback_id="f",
                    pair_id="pair-1",
                    programme_id=programme_id,
                    author_id="mentee-1",
                    author_role="mentee",
                    rating=4,
                    minutes_saved_per_day=30,
                    opportunity_text="a new product line",
                ),
                tenant="t",
            )
        )

    data = json.loads(scrubbed_body(feedback("prog-1"), programme_id="prog-1", kinds=("text",)) or "")["data"]
    assert (data["opportunity_text"], data["rating"], data["minutes_saved_per_day"]) == (PLACEHOLDER, 4, 30)
    assert scrubbed_body(feedback("prog-2"), programme_id="prog-1", kinds=("text",)) is None
    assert scrubbed_body("not json", scope_ids={"x"}) is None
