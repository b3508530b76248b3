"""A match run's policy override names the same fields as the programme's matching policy and the engine."""

from __future__ import annotations

from dataclasses import fields

from services.pairing.api.schemas import MatchingPolicyIn, PolicyOverrideIn, WeightsOverrideIn
from services.pairing.domain.matching import Weights


def test_a_run_may_change_every_weight_the_engine_has_and_no_other() -> None:
    assert set(WeightsOverrideIn.model_fields) == {f.name for f in fields(Weights)}


def test_a_run_may_change_every_field_of_the_programme_policy_but_what_reorganisations_do() -> None:
    assert set(PolicyOverrideIn.model_fields) == set(MatchingPolicyIn.model_fields)
    assert "flagged_pairs" not in PolicyOverrideIn.model_json_schema()["properties"]


def test_only_the_fields_given_are_changes() -> None:
    given = PolicyOverrideIn.model_validate({"min_score": 40, "weights": {"availability": 0}})
    assert given.changes() == {"min_score": 40.0, "weights": {"availability": 0.0}}
    assert PolicyOverrideIn.model_validate({}).changes() == {}
