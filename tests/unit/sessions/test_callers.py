"""What each caller reaches and sees: own pairs, acting as oneself, confidential comments, names, access records."""

from __future__ import annotations

import pytest

from services.sessions.domain import callers
from services.sessions.domain.model import PairView
from shared.auth import Forbidden

PAIR = PairView("pair-1", "prog-1", "mentor-1", "mentee-1", "active")
OWN_ROUTE = frozenset({"hr", "participant"})
READ_ROUTE = frozenset({"hr", "auditor", "participant"})


def test_a_caller_who_gets_in_only_as_a_participant_is_narrowed_to_their_own() -> None:
    assert callers.only_as_participant(frozenset({"participant"}), OWN_ROUTE)
    assert not callers.only_as_participant(frozenset({"hr"}), OWN_ROUTE)
    assert not callers.only_as_participant(frozenset({"hr", "participant"}), OWN_ROUTE)  # HR who also mentors
    assert callers.only_as_participant(frozenset({"auditor", "participant"}), OWN_ROUTE)  # auditors may not write
    assert not callers.only_as_participant(frozenset({"auditor", "participant"}), READ_ROUTE)  # but may read


def test_membership_is_by_participant_id() -> None:
    assert callers.is_member(PAIR, {"mentee-1"})
    assert callers.is_member(PAIR, {"mentor-1", "mentor-7"})
    assert not callers.is_member(PAIR, {"mentee-2"})
    assert not callers.is_member(PAIR, set())


def test_a_participant_acts_only_as_themselves() -> None:
    callers.check_acting_as("author_id", "mentee-1", frozenset({"mentee-1"}))
    with pytest.raises(Forbidden) as err:
        callers.check_acting_as("author_id", "mentor-1", frozenset({"mentee-1"}))
    assert (err.value.status, err.value.field) == (403, "author_id")
    assert "mentor-1" in err.value.message


FEEDBACK = [
    {"feedback_id": "f1", "author_id": "mentee-1", "rating": 5, "confidential_comment": "Between us"},
    {"feedback_id": "f2", "author_id": "mentor-1", "rating": 4, "confidential_comment": None},
]


@pytest.mark.parametrize(
    ("roles", "own", "shown", "others"),
    [
        ({"participant"}, {"mentee-1"}, "Between us", 0),  # the author
        ({"participant"}, {"mentor-1"}, None, 0),  # the other side
        ({"auditor"}, set(), None, 0),
        ({"hr"}, set(), "Between us", 1),  # HR reads someone else's comment: recorded
        ({"auditor", "participant"}, {"mentor-1"}, None, 0),
    ],
)
def test_a_confidential_comment_is_for_its_author_and_hr(
    roles: set[str], own: set[str], shown: str | None, others: int
) -> None:
    items, count = callers.redact_feedback(FEEDBACK, frozenset(roles), frozenset(own))
    assert items[0]["confidential_comment"] == shown
    assert [item["rating"] for item in items] == [5, 4]  # the rest is for everyone who may read feedback
    assert count == others
    assert FEEDBACK[0]["confidential_comment"] == "Between us"  # the rows themselves are left alone


def test_names_of_at_risk_pairs_are_for_hr_and_records_name_the_role_acted_in() -> None:
    assert callers.sees_names(frozenset({"hr"}))
    assert not callers.sees_names(frozenset({"auditor"}))
    assert callers.acting_role(frozenset({"auditor"}), READ_ROUTE) == "auditor"
    assert callers.acting_role(frozenset({"participant", "hr"}), READ_ROUTE) == "hr"
    assert callers.acting_role(frozenset({"participant", "auditor"}), OWN_ROUTE) == "participant"
