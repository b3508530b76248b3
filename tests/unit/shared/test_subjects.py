"""shared/subjects.py's pure parts: which parameters a section's query binds, and the checks on a service's
sections."""

from __future__ import annotations

import pytest

from shared.subjects import Section, Subjects, document


def test_a_query_binds_only_the_parameters_it_uses_renumbered() -> None:
    sql, which = Section("s", "SELECT * FROM t WHERE tenant = $1 AND x = ANY($3) AND y = ANY($3)").bound()
    assert sql == "SELECT * FROM t WHERE tenant = $1 AND x = ANY($2) AND y = ANY($2)"
    assert which == (0, 2)
    assert Section("s", "SELECT 1 WHERE $2 = $1").bound() == ("SELECT 1 WHERE $2 = $1", (0, 1))
    assert Section("s", "SELECT * FROM t WHERE a = ANY($3)").bound() == ("SELECT * FROM t WHERE a = ANY($1)", (2,))


@pytest.mark.parametrize("sql", ["SELECT 1", "SELECT * FROM t WHERE a = $4"])
def test_a_query_without_the_known_parameters_is_refused(sql: str) -> None:
    with pytest.raises(ValueError, match="section bad"):
        Section("bad", sql).bound()


def test_a_service_names_each_section_once_and_every_query_is_checked() -> None:
    with pytest.raises(ValueError, match="repeat"):
        Subjects("x", "SELECT 1", [Section("a", "SELECT $1"), Section("a", "SELECT $2")])
    with pytest.raises(ValueError, match="section b"):
        Subjects("x", "SELECT 1", [Section("a", "SELECT $1"), Section("b", "SELECT 2")])


def test_the_document_holds_each_answer_as_given() -> None:
    answer = {"service": "pairing", "known": False, "records": {}}
    made = document("E-1", "acme", {"pairing": answer})
    assert made["employee_id"] == "E-1"
    assert made["tenant"] == "acme"
    assert made["services"] == {"pairing": answer}
    assert made["exported_at"].endswith("+00:00")
