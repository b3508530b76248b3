"""Addressing a mail and delivering a notification: clean headers, IDNA, SMTPUTF8, Message-IDs, lapsed claims,
back-off."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.notifications.domain import delivery, mail
from services.notifications.domain.delivery import Claimed, resume
from services.notifications.domain.webhooks import RetryPolicy

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NID = uuid.UUID("0b7c3a53-6f0e-4c1b-9a57-7d1f3f2b9e10")


def test_header_values_are_cleaned_of_line_breaks_not_refused() -> None:
    assert mail.single_line("Chloé\r\nMüller") == "Chloé Müller"
    assert mail.single_line(" a\nb\u2028c\u2029d\x00e\tf\x0bg  ") == "a b c d e f g"
    assert mail.single_line("\r\n") == ""
    box = mail.mailbox("lena@acme.example", "Lena\nBcc: x@evil.example")
    assert box.display_name == "Lena Bcc: x@evil.example"


def test_an_internationalised_address_keeps_its_local_part_and_gets_an_idna_domain() -> None:
    box = mail.mailbox(" chloé.9@Müller.example ", "Chloé")
    assert box == mail.Mailbox("chloé.9", "xn--mller-kva.example", "Chloé")
    assert box.addr_spec == "chloé.9@xn--mller-kva.example"
    assert box.needs_smtputf8
    plain = mail.mailbox("x@müller.example")
    assert plain.addr_spec == "x@xn--mller-kva.example"
    assert not plain.needs_smtputf8  # an IDNA domain is ASCII: any server takes it
    assert mail.mailbox("x@straße.de").domain == "xn--strae-oqa.de"  # IDNA 2008: ß stays ß
    assert mail.mailbox("o'brien+tandem@acme.example").local_part == "o'brien+tandem"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("", "no address"),
        ("lena.acme.example", "has no @"),
        ("lena\n@acme.example", "line break"),
        ("lena@acme.example\r\nRCPT TO:<x@evil.example>", "line break"),
        ("le na@acme.example", "not allowed there: ' '"),
        ("<lena>@acme.example", "not allowed there: '<'"),
        ('"lena"@acme.example', "quoted local parts"),
        (".lena@acme.example", "dot"),
        ("le..na@acme.example", "dot"),
        ("@acme.example", "nothing before the @"),
        ("lena@", "no domain"),
        ("lena@[127.0.0.1]", "address literals"),
        ("lena@acme_corp.example", "not a valid host name"),
        ("chlo\u00a0é@acme.example", "control or space"),
        ("a" * 65 + "@acme.example", "longer than 64 octets"),
    ],
)
def test_what_cannot_take_mail_says_why(address: str, reason: str) -> None:
    with pytest.raises(mail.AddressError, match=reason):
        mail.mailbox(address)


def test_the_message_id_is_the_notification_at_the_senders_domain_whatever_the_try() -> None:
    sender = mail.sender("Tandem <tandem@Tandem.Müller.example>")
    assert sender == mail.Mailbox("tandem", "tandem.xn--mller-kva.example", "Tandem")
    mid = mail.message_id(NID, sender.domain)
    assert mid == f"<{NID}@tandem.xn--mller-kva.example>"
    assert mail.message_id(str(NID), sender.domain) == mid
    assert mail.message_id(uuid.uuid4(), sender.domain) != mid
    assert mail.idempotency_key(mid) == f"{NID}@tandem.xn--mller-kva.example"
    assert mail.sender("tandem@localhost").domain == "localhost"
    with pytest.raises(mail.AddressError):
        mail.sender("Tandem")


def test_notification_sent_has_one_event_id_per_notification_and_tenant() -> None:
    assert delivery.sent_event_id("acme", NID) == delivery.sent_event_id("acme", str(NID))
    assert delivery.sent_event_id("acme", NID) != delivery.sent_event_id("globex", NID)
    assert delivery.sent_event_id("acme", NID) != delivery.sent_event_id("acme", uuid.uuid4())


POLICY = delivery.DEFAULT_RETRY


def test_a_delivered_notification_is_completed_never_sent_again() -> None:
    assert resume(Claimed(attempts=1, lapsed=True, attempt_recorded=True, delivered=True), POLICY).action == "complete"
    assert resume(Claimed(attempts=5, lapsed=True, attempt_recorded=True, delivered=True), POLICY).action == "complete"


def test_a_lapsed_claim_is_sent_again_and_counts_as_an_attempt() -> None:
    fresh = resume(Claimed(attempts=0), POLICY)
    assert (fresh.action, fresh.attempts) == ("send", 0)
    # it had recorded its attempt (and may have sent): the attempt is counted once, not twice
    recorded = resume(Claimed(attempts=1, lapsed=True, attempt_recorded=True), POLICY)
    assert (recorded.action, recorded.attempts) == ("send", 1)
    # it died before recording one (while rendering, or with its database gone): the lapse is the attempt
    unrecorded = resume(Claimed(attempts=1, lapsed=True, attempt_recorded=False), POLICY)
    assert (unrecorded.action, unrecorded.attempts) == ("send", 2)


def test_lapsed_claims_cannot_retry_for_ever() -> None:
    attempts, outcome = 0, resume(Claimed(attempts=0, lapsed=True), POLICY)
    while outcome.action == "send":
        attempts = outcome.attempts
        outcome = resume(Claimed(attempts=attempts, lapsed=True), POLICY)
    assert outcome.action == "give_up"
    assert outcome.attempts == POLICY.max_attempts == 5
    assert "gave up after 5 attempts" in outcome.reason


def test_back_off_keeps_the_old_bound_with_jitter() -> None:
    # 1, 5, 25, then 120 minutes (capped), each scaled into [50 %, 100 %]; five attempts, then failed
    top = [delivery.next_attempt(POLICY, n, NOW, 0.999999) for n in range(1, 5)]
    low = [delivery.next_attempt(POLICY, n, NOW, 0.0) for n in range(1, 5)]
    assert [round((t - NOW).total_seconds() / 60) for t in top if t] == [1, 5, 25, 120]
    assert [(t - NOW).total_seconds() / 60 for t in low if t] == [0.5, 2.5, 12.5, 60]
    assert delivery.next_attempt(POLICY, 5, NOW, 0.5) is None
    total = sum(((t - NOW) for t in top if t), timedelta())
    assert total <= timedelta(minutes=1 + 5 + 30 + 120)  # never later than the schedule it replaces
    policy = RetryPolicy(max_attempts=3, base=timedelta(seconds=2), cap=timedelta(seconds=30), factor=10)
    assert delivery.next_attempt(policy, 1, NOW, 0.0) == NOW + timedelta(seconds=1)
    assert delivery.next_attempt(policy, 2, NOW, 0.0) == NOW + timedelta(seconds=10)
    assert delivery.next_attempt(policy, 3, NOW, 0.0) is None
    with pytest.raises(ValueError, match="factor"):
        RetryPolicy(factor=0.5)
