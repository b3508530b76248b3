"""Chat webhooks cannot be aimed anywhere: https only, a host on the tenant's list that HR keeps, public addresses
only, checked on save and before every send, redirects never followed. Over the real broker, Postgres, SMTP
server, real local HTTP receivers and real tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.events import sessions as s
from tests import auth
from tests.integration.notifications.receiver import Receiver
from tests.integration.notifications.test_delivery import Rig, until
from tests.kafka_helpers import read_topic

#: The development setting: http receivers on 127.0.0.1 (the tests' own); everything else is as in production.
DEVELOPMENT = {"WEBHOOK_ALLOW_INSECURE": "true"}


async def known(rig: Rig) -> None:
    """The two people known to the service, quiet hours off."""
    await rig.emit(*rig.people())
    await rig.no_quiet_hours()


async def allow_hosts(rig: Rig, *hosts: str) -> None:
    async with rig.hr() as hr:
        r = await hr.put("/chat-webhook-hosts", json={"hosts": list(hosts)})
        assert r.status_code == 200, r.text


async def chat_to(rig: Rig, who: str, url: str) -> None:
    async with rig.person(who) as me:
        body = {"channel": "chat", "chat_webhook_url": url, "quiet_start": None, "quiet_end": None}
        r = await me.put(f"/recipients/{who}/preferences", json=body)
        assert r.status_code == 200, r.text


async def failed(rig: Rig, who: str) -> list[dict[str, Any]]:
    return [n for n in await rig.history(who) if n["status"] == "failed"]


async def test_a_chat_webhook_off_the_list_on_http_or_on_a_private_address_is_refused_and_nothing_stored(
    rig: Rig,
) -> None:
    await rig.run()  # production settings: https and public receivers only
    await known(rig)
    # HR lists even addresses no receiver may have: the address rules refuse them all the same
    await allow_hosts(rig, "hooks.chat.example", "127.0.0.1", "169.254.169.254", "localhost")
    cases = [
        ("http://hooks.chat.example/services/x", "https"),
        ("https://elsewhere.example/services/x", "not on this organisation's list"),
        ("https://hooks.chat.example.elsewhere.example/x", "not on this organisation's list"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://127.0.0.1:8443/hook", "loopback"),
        ("https://169.254.169.254/latest/meta-data/iam/security-credentials/", "link-local"),
        ("https://localhost/hook", "loopback"),
        ("https://[::1]/hook", "not on this organisation's list"),
        ("https://user:secret@hooks.chat.example/x", "user name or password"),
        ("https://hooks.chat.example\\@127.0.0.1/x", "backslash"),
    ]
    async with rig.person(rig.mentor) as me:
        before = (await me.get(f"/recipients/{rig.mentor}/preferences")).json()
        for url, words in cases:
            for channel in ("chat", "email"):  # a URL is checked whether or not the chat channel is chosen now
                r = await me.put(
                    f"/recipients/{rig.mentor}/preferences", json={"channel": channel, "chat_webhook_url": url}
                )
                assert r.status_code == 422, (url, r.text)
                error = r.json()["error"]
                assert error["field"] == "chat_webhook_url", (url, error)
                assert words in error["message"], (url, error)
        assert (await me.get(f"/recipients/{rig.mentor}/preferences")).json() == before
    assert rig.host is not None
    assert await rig.host.pool.fetchval("SELECT count(*) FROM preferences WHERE chat_webhook_url IS NOT NULL") == 0

    # 127.0.0.1 when HR has not listed it: refused for that first
    await allow_hosts(rig, "hooks.chat.example")
    async with rig.person(rig.mentor) as me:
        r = await me.put(
            f"/recipients/{rig.mentor}/preferences",
            json={"channel": "chat", "chat_webhook_url": "https://127.0.0.1/hook"},
        )
        assert r.status_code == 422
        assert "not on this organisation's list" in r.json()["error"]["message"]


async def test_only_hr_keeps_the_list_and_only_bare_host_names_go_on_it(rig: Rig) -> None:
    await rig.run()
    await known(rig)
    await allow_hosts(rig, "Hooks.Slack.com", "hooks.slack.com.", "acme.webhook.office.com")
    async with rig.hr() as hr:
        assert (await hr.get("/chat-webhook-hosts")).json() == {"hosts": ["acme.webhook.office.com", "hooks.slack.com"]}
        for bad in (["https://hooks.slack.com"], ["hooks.slack.com/services"], ["*.slack.com"], ["x.com:443"], [""]):
            r = await hr.put("/chat-webhook-hosts", json={"hosts": bad})
            assert r.status_code == 422, bad
            assert r.json()["error"]["field"] == "hosts"
        too_many = await hr.put("/chat-webhook-hosts", json={"hosts": [f"h{i}.example" for i in range(101)]})
        assert too_many.status_code == 422
        assert (await hr.get("/chat-webhook-hosts")).json() == {"hosts": ["acme.webhook.office.com", "hooks.slack.com"]}
    for role, kwargs in (
        ("participant", {"employee_id": rig.employee_id(rig.mentor)}),
        ("integration", {}),
        ("auditor", {}),
        ("operator", {}),
    ):
        async with auth.client(role, base_url=rig.url, **kwargs) as other:
            assert (await other.put("/chat-webhook-hosts", json={"hosts": ["evil.example"]})).status_code == 403
            assert (await other.get("/chat-webhook-hosts")).status_code == 403
    async with rig.hr() as hr:
        assert (await hr.get("/chat-webhook-hosts")).json()["hosts"] == ["acme.webhook.office.com", "hooks.slack.com"]


async def test_a_receiver_that_redirects_is_not_followed_and_the_notification_fails_with_the_reason(
    rig: Rig, receiver: Receiver
) -> None:
    elsewhere = await Receiver().start()
    try:
        host = await rig.run(**DEVELOPMENT)
        await known(rig)
        await allow_hosts(rig, "127.0.0.1")
        await chat_to(rig, rig.mentor, receiver.url)
        receiver.status, receiver.location = 307, elsewhere.url
        await rig.emit(rig.created())
        [welcome] = await until(lambda: failed(rig, rig.mentor))
        assert welcome["rule"] == "welcome"
        assert welcome["channel"] == "chat"
        assert "307" in welcome["last_error"]
        assert "not followed" in welcome["last_error"]
        assert len(receiver.received) == 1
        assert elsewhere.received == []
        events = await read_topic(rig.infra.kafka_bootstrap, host.topics.notifications, expect=2)
        assert b"tandem.notifications.NotificationFailed" in [dict(e.headers)["ce_type"] for e in events]
    finally:
        await elsewhere.stop()


async def test_a_host_taken_off_the_list_gets_nothing_more_at_once(rig: Rig, receiver: Receiver) -> None:
    await rig.run(**DEVELOPMENT)
    await known(rig)
    await allow_hosts(rig, "127.0.0.1", "hooks.slack.com")
    await chat_to(rig, rig.mentor, receiver.url)
    await rig.emit(rig.created())
    await until(lambda: receiver.received)  # the welcome, posted to the chat webhook
    await until(lambda: _sent(rig, rig.mentor, "welcome"))

    await allow_hosts(rig, "hooks.slack.com")  # HR takes 127.0.0.1 off the list
    await rig.emit(
        s.SessionScheduled(
            pair_id=rig.pair,
            programme_id=rig.prog,
            session_id="s1",
            duration_minutes=30,
            starts_at=datetime.now(UTC) + timedelta(days=3),
        ),
        s.SessionCancelled(pair_id=rig.pair, programme_id=rig.prog, session_id="s1", reason="ill", sequence=1),
    )
    [cancelled] = await until(lambda: failed(rig, rig.mentor))
    assert cancelled["rule"] == "session_cancelled"
    assert "not on this organisation's list" in cancelled["last_error"]
    assert cancelled["attempts"] == 1  # a refusal is not retried
    await until(lambda: rig.smtp.mailbox.to(rig.email(rig.mentee))[1:])  # she reads e-mail: her cancellation came
    assert len(receiver.received) == 1

    # back on the list, HR resends it: it goes out (the list was the only reason)
    await allow_hosts(rig, "127.0.0.1", "hooks.slack.com")
    async with rig.hr() as hr:
        assert (await hr.post(f"/notifications/{cancelled['notification_id']}/resend")).status_code == 200
    await until(lambda: receiver.received[1:])
    await until(lambda: _sent(rig, rig.mentor, "session_cancelled"))


async def test_the_rules_are_checked_again_before_each_send(rig: Rig, receiver: Receiver) -> None:
    """A URL saved under the development setting is not sent to once the service runs without it."""
    await rig.run(**DEVELOPMENT)
    await known(rig)
    await allow_hosts(rig, "127.0.0.1")
    await chat_to(rig, rig.mentor, receiver.url)  # http://127.0.0.1:...: fine in development
    await rig.restart(WEBHOOK_ALLOW_INSECURE="false")
    await rig.emit(rig.created())
    [welcome] = await until(lambda: failed(rig, rig.mentor))
    assert "https" in welcome["last_error"]
    await until(lambda: rig.smtp.mailbox.to(rig.email(rig.mentee)))  # the mentee's welcome went out by e-mail
    assert receiver.received == []


async def _sent(rig: Rig, who: str, rule: str) -> bool:
    return any(n["rule"] == rule and n["status"] == "sent" for n in await rig.history(who))
