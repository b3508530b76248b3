"""Chat webhooks, the pure rules: the tenant's list of hosts, where a person's chat webhook may point, and who
may reach a recipient's preferences and history."""

from __future__ import annotations

import pytest

from services.notifications.domain import chat, reach
from shared.auth import Principal
from shared.errors import InvalidInput

LISTED = ["hooks.slack.com", "acme.webhook.office.com", "127.0.0.1"]


def test_the_list_holds_normalised_host_names_once_each_sorted() -> None:
    given = ["Hooks.Slack.com", "hooks.slack.com.", "ACME.webhook.office.com", "bücher.example", "[::1]", "::1"]
    assert chat.check_hosts(given) == ["::1", "acme.webhook.office.com", "hooks.slack.com", "xn--bcher-kva.example"]
    assert chat.check_hosts([]) == []


@pytest.mark.parametrize(
    "host",
    [
        "https://hooks.slack.com",
        "hooks.slack.com/services",
        "hooks.slack.com:443",
        "*.slack.com",
        "",
        " ",
        "a..b",
        "user@hooks.slack.com",
        "1.2.3",
        "0x7f000001",
        "under_score.example",
        "x" * 64 + ".com",
    ],
)
def test_anything_but_a_bare_host_is_refused_naming_hosts(host: str) -> None:
    with pytest.raises(InvalidInput, match="not a host name") as err:
        chat.check_hosts(["hooks.slack.com", host])
    assert err.value.field == "hosts"


def test_the_list_is_bounded() -> None:
    with pytest.raises(InvalidInput, match="at most 100") as err:
        chat.check_hosts([f"h{i}.example" for i in range(101)])
    assert err.value.field == "hosts"


@pytest.mark.parametrize(
    ("url", "insecure"),
    [
        ("https://hooks.slack.com/services/T0/B0/x", False),
        ("https://HOOKS.slack.com./services/T0/B0/x", False),
        ("https://acme.webhook.office.com:8443/webhookb2/x", False),  # any port
        ("http://127.0.0.1:9000/hook", True),  # development only
    ],
)
def test_a_url_on_a_listed_host_passes(url: str, insecure: bool) -> None:
    assert chat.check_chat_url(url, LISTED, allow_insecure=insecure).url == url


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://hooks.slack.com/services/x", "https"),
        ("ftp://hooks.slack.com/x", "https"),
        ("https://evil.example/x", "not on this organisation's list"),
        ("https://hooks.slack.com.evil.example/x", "not on this organisation's list"),
        ("https://slack.com/x", "not on this organisation's list"),  # the list names hosts, not domains
        ("https://hooks.slack.com@evil.example/x", "user name or password"),  # the host is evil.example
        ("https://user:pw@hooks.slack.com/x", "user name or password"),
        ("https://hooks.slack.com\\@evil.example/x", "backslash"),
        ("https://hooks.slack.com/x y", "spaces"),
        ("https://hooks.slack.com/\nx", "control"),
        ("https:///x", "no host"),
        ("https://hooks.slack.com/" + "x" * 2000, "2,000"),
    ],
)
def test_anything_else_is_refused_naming_chat_webhook_url(url: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words) as err:
        chat.check_chat_url(url, LISTED, allow_insecure=False)
    assert err.value.field == "chat_webhook_url"


def test_a_listed_address_passes_these_rules_the_address_rules_are_applied_apart() -> None:
    # what a host resolves to is checked with the resolver (network.py; the integration tests refuse 127.0.0.1
    # and 169.254.169.254 even when HR listed them)
    assert chat.check_chat_url("https://127.0.0.1/x", LISTED, allow_insecure=False).host == "127.0.0.1"


def test_no_list_no_chat_webhook() -> None:
    with pytest.raises(InvalidInput, match="not on this organisation's list") as err:
        chat.check_chat_url("https://hooks.slack.com/x", [], allow_insecure=True)
    assert err.value.field == "chat_webhook_url"


def _caller(*roles: str, employee_id: str | None = None) -> Principal:
    return Principal(subject="s", tenant="acme", roles=frozenset(roles), employee_id=employee_id)


def test_hr_reads_anyone_a_participant_only_themselves_and_only_people_change_their_own() -> None:
    hr, lena = _caller("hr"), _caller("participant", employee_id="E1")
    assert reach.may_read(hr, "E1")
    assert reach.may_read(hr, None)
    assert reach.may_read(lena, "E1")
    assert not reach.may_read(lena, "E2")
    assert not reach.may_read(lena, None)
    assert not reach.may_read(_caller("participant"), None)  # a participant token without an employee id
    assert reach.may_change(lena, "E1")
    assert not reach.may_change(lena, "E2")
    assert not reach.may_change(hr, "E1")  # HR does not change people's preferences
    hr_and_participant = _caller("hr", "participant", employee_id="E9")
    assert reach.may_change(hr_and_participant, "E9")
    assert not reach.may_change(hr_and_participant, "E1")
    assert not reach.may_read(_caller("auditor", employee_id="E1"), "E1")
