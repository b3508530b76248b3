"""The local OpenID Connect provider over real HTTP on 127.0.0.1: discovery, JWKS, Authorization Code + PKCE,
client credentials, refresh, userinfo, logout and key rotation; tokens verified with PyJWT as the services will."""

from __future__ import annotations

import logging
import re
import secrets
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from shared.identity_provider import Client, DemoUser, LocalIdentityProvider

WEB = "tandem-web"
CALLBACK = "http://127.0.0.1:8001/auth/callback"

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise


@pytest.fixture(scope="module")
def idp() -> Iterator[LocalIdentityProvider]:
    with LocalIdentityProvider(audience="tandem") as provider:
        yield provider


def verify(idp: LocalIdentityProvider, token: str, audience: str = "tandem") -> dict[str, Any]:
    """As a service will: keys from the JWKS URL by kid, RS256 only, issuer, audience and times checked."""
    key = jwt.PyJWKClient(idp.jwks_uri).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        audience=audience,
        issuer=idp.issuer,
        options={"require": ["iss", "sub", "aud", "exp", "iat", "nbf"]},
    )
    return claims


def sign_in_form(http: httpx.Client, idp: LocalIdentityProvider, **params: str) -> httpx.Response:
    """GET the authorization endpoint as a browser would (the sign-in page, or an error)."""
    query = {"response_type": "code", "client_id": WEB, "redirect_uri": CALLBACK, "scope": "openid profile", **params}
    return http.get(idp.authorization_endpoint, params=query)


def csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def authorize(http: httpx.Client, idp: LocalIdentityProvider, username: str, **params: str) -> dict[str, list[str]]:
    """Sign in on the page with user name and password; the query of the redirect back to the client."""
    page = sign_in_form(http, idp, **params)
    assert page.status_code == 200, page.text
    user = idp.users[username]
    form = {"csrf": csrf(page), "username": username, "password": user.password}
    redirect = http.post(str(page.url), data=form)
    assert redirect.status_code == 302, redirect.text
    location = redirect.headers["location"]
    assert location.startswith(params.get("redirect_uri", CALLBACK))
    return parse_qs(urlsplit(location).query)


def pkce() -> tuple[str, dict[str, str]]:
    verifier = secrets.token_urlsafe(48)
    return verifier, {"code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"}


def redeem(idp: LocalIdentityProvider, code: str, verifier: str, client_id: str = WEB) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "client_id": client_id,
        "code_verifier": verifier,
    }
    return httpx.post(idp.token_endpoint, data=data)


def test_discovery_and_jwks(idp: LocalIdentityProvider) -> None:
    meta = httpx.get(idp.discovery_url).json()
    assert meta["issuer"] == idp.issuer
    assert idp.issuer.startswith("http://127.0.0.1:")
    for endpoint in (
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
        "end_session_endpoint",
    ):
        assert meta[endpoint].startswith(idp.issuer + "/")
    assert meta["response_types_supported"] == ["code"]
    assert set(meta["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(meta["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post", "none"}

    jwks = httpx.get(meta["jwks_uri"]).json()
    assert jwks["keys"], jwks
    for key in jwks["keys"]:
        assert key["kty"] == "RSA"
        assert key["alg"] == "RS256"
        assert key["use"] == "sig"
        assert key["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys(), "private parts must never be published"
    assert idp.kid in {k["kid"] for k in jwks["keys"]}


def test_user_token_through_authorization_code_and_pkce(idp: LocalIdentityProvider) -> None:
    token = idp.user_token("lena")

    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert header["kid"] == idp.kid
    claims = verify(idp, token)
    assert claims["sub"] == "lena"
    assert claims["client_id"] == WEB
    assert claims["roles"] == ["participant"]
    assert claims["tenant"] == "default"
    assert claims["employee_id"] == "E-2000"
    assert claims["name"] == "Lena Yilmaz"
    assert claims["email"] == "lena.0@acme.example"
    assert claims["preferred_username"] == "lena"
    assert "openid" in claims["scope"].split()
    assert claims["jti"]
    assert claims["nbf"] <= claims["iat"] < claims["exp"]


def test_a_person_added_at_runtime_in_another_tenant(idp: LocalIdentityProvider) -> None:
    username = f"u-{uuid.uuid4().hex[:8]}"
    idp.add_user(DemoUser(username, "Test Person", f"{username}@other.example", ["hr", "auditor"], "tenant-b"))

    claims = verify(idp, idp.user_token(username))

    assert (claims["sub"], claims["tenant"], claims["roles"]) == (username, "tenant-b", ["hr", "auditor"])
    assert "employee_id" not in claims


def test_the_audience_is_configurable() -> None:
    with LocalIdentityProvider(audience="api://tandem-test") as other:
        token = other.client_credentials_token("tandem-cli")
        assert verify(other, token, audience="api://tandem-test")["roles"] == ["operator"]
        with pytest.raises(jwt.InvalidAudienceError):
            verify(other, token, audience="tandem")


def test_id_token_is_standard_oidc_with_the_nonce(idp: LocalIdentityProvider) -> None:
    nonce = secrets.token_urlsafe(12)
    tokens = idp.sign_in("ingrid", nonce=nonce)

    key = jwt.PyJWKClient(idp.jwks_uri).get_signing_key_from_jwt(tokens["id_token"])
    claims = jwt.decode(tokens["id_token"], key, algorithms=["RS256"], audience=WEB, issuer=idp.issuer)
    assert claims["nonce"] == nonce
    assert claims["sub"] == "ingrid"
    assert claims["name"] == "Dr. Ingrid Hoffmann"
    assert claims["auth_time"] <= claims["iat"]


def test_wrong_code_verifier_is_invalid_grant(idp: LocalIdentityProvider) -> None:
    _, challenge = pkce()
    with httpx.Client() as http:
        query = authorize(http, idp, "lena", **challenge)

    response = redeem(idp, query["code"][0], secrets.token_urlsafe(48))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_code_is_good_once(idp: LocalIdentityProvider) -> None:
    verifier, challenge = pkce()
    with httpx.Client() as http:
        code = authorize(http, idp, "lena", **challenge)["code"][0]

    assert redeem(idp, code, verifier).status_code == 200
    again = redeem(idp, code, verifier)

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_state_is_passed_through(idp: LocalIdentityProvider) -> None:
    _, challenge = pkce()
    with httpx.Client() as http:
        query = authorize(http, idp, "hr", state="xyz-42", **challenge)
    assert query["state"] == ["xyz-42"]


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({}, id="no-challenge"),
        pytest.param({"code_challenge": "a" * 43, "code_challenge_method": "plain"}, id="plain"),
        pytest.param({"code_challenge": "a" * 43}, id="method-omitted-means-plain"),
    ],
)
def test_public_client_must_use_pkce_s256(idp: LocalIdentityProvider, params: dict[str, str]) -> None:
    with httpx.Client() as http:
        response = sign_in_form(http, idp, state="s1", **params)

    # The client and its redirect URI are valid, so the error goes back to the client (RFC 6749 §4.1.2.1).
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(CALLBACK)
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == ["invalid_request"]
    assert query["state"] == ["s1"]
    assert "code" not in query


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:9999/auth/callback",
        "http://127.0.0.1:8001/auth/callback/evil",
        "http://127.0.0.1:8001/auth/callback?next=x",
        "https://attacker.example/auth/callback",
    ],
)
def test_unregistered_redirect_uri_is_refused_without_redirect(idp: LocalIdentityProvider, redirect_uri: str) -> None:
    _, challenge = pkce()
    with httpx.Client() as http:
        response = sign_in_form(http, idp, redirect_uri=redirect_uri, **challenge)

    assert response.status_code == 400
    assert "location" not in response.headers
    assert "invalid_request" in response.text


def test_unknown_client_is_refused_without_redirect(idp: LocalIdentityProvider) -> None:
    _, challenge = pkce()
    with httpx.Client() as http:
        response = sign_in_form(http, idp, client_id="nobody", **challenge)
    assert response.status_code == 400
    assert "location" not in response.headers


def test_wrong_password_shows_the_page_again(idp: LocalIdentityProvider) -> None:
    _, challenge = pkce()
    with httpx.Client() as http:
        page = sign_in_form(http, idp, **challenge)
        again = http.post(str(page.url), data={"csrf": csrf(page), "username": "lena", "password": "wrong"})
    assert again.status_code == 200
    assert "location" not in again.headers
    assert "wrong password" in again.text


def test_the_form_needs_its_csrf_token(idp: LocalIdentityProvider) -> None:
    _, challenge = pkce()
    with httpx.Client() as http:
        page = sign_in_form(http, idp, **challenge)
        forged = http.post(str(page.url), data={"csrf": "forged", "username": "lena", "password": "tandem"})
    assert forged.status_code == 400
    assert "location" not in forged.headers


def test_picking_a_demo_user_and_cancelling(idp: LocalIdentityProvider) -> None:
    verifier, challenge = pkce()
    with httpx.Client() as http:
        page = sign_in_form(http, idp, **challenge)
        assert "Lena Yilmaz" in page.text
        assert "Dr. Ingrid Hoffmann" in page.text
        picked = http.post(str(page.url), data={"csrf": csrf(page), "pick": "auditor"})
    code = parse_qs(urlsplit(picked.headers["location"]).query)["code"][0]
    assert verify(idp, redeem(idp, code, verifier).json()["access_token"])["roles"] == ["auditor"]

    with httpx.Client() as http:
        page = sign_in_form(http, idp, **pkce()[1])
        cancelled = http.post(str(page.url), data={"csrf": csrf(page), "cancel": "1"})
    assert parse_qs(urlsplit(cancelled.headers["location"]).query)["error"] == ["access_denied"]


def test_client_credentials(idp: LocalIdentityProvider) -> None:
    bad = httpx.post(
        idp.token_endpoint, data={"grant_type": "client_credentials"}, auth=("tandem-hr-platform", "not-the-secret")
    )
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_client"

    secret = idp.clients["tandem-hr-platform"].secret
    assert secret is not None
    basic = httpx.post(
        idp.token_endpoint, data={"grant_type": "client_credentials"}, auth=("tandem-hr-platform", secret)
    )
    post = httpx.post(
        idp.token_endpoint,
        data={"grant_type": "client_credentials", "client_id": "tandem-hr-platform", "client_secret": secret},
    )
    for response in (basic, post):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"].lower() == "bearer"
        assert "refresh_token" not in body
        assert jwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"
        claims = verify(idp, body["access_token"])
        assert claims["sub"] == claims["client_id"] == "tandem-hr-platform"
        assert claims["roles"] == ["integration"]
        assert claims["tenant"] == "default"
        assert "employee_id" not in claims


def test_client_credentials_are_for_confidential_clients_only(idp: LocalIdentityProvider) -> None:
    response = httpx.post(idp.token_endpoint, data={"grant_type": "client_credentials", "client_id": WEB})
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_client", "unauthorized_client")


def test_a_client_added_at_runtime(idp: LocalIdentityProvider) -> None:
    client_id = f"c-{uuid.uuid4().hex[:8]}"
    idp.add_client(Client(client_id, secret="s3cret", grant_types=["client_credentials"], roles=["hr"], tenant="t-9"))

    claims = verify(idp, idp.client_credentials_token(client_id, "s3cret"))

    assert (claims["sub"], claims["roles"], claims["tenant"]) == (client_id, ["hr"], "t-9")


def test_refresh_token(idp: LocalIdentityProvider) -> None:
    first = idp.sign_in("lena")

    second = idp.refresh(first["refresh_token"])

    claims = verify(idp, second["access_token"])
    assert claims["sub"] == "lena"
    assert claims["jti"] != verify(idp, first["access_token"])["jti"]
    assert second["refresh_token"] != first["refresh_token"]
    reused = httpx.post(
        idp.token_endpoint,
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": WEB},
    )
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"


def test_userinfo(idp: LocalIdentityProvider) -> None:
    token = idp.user_token("ingrid")

    info = httpx.get(idp.userinfo_endpoint, headers={"Authorization": f"Bearer {token}"})

    assert info.status_code == 200
    assert info.json() == {
        "sub": "ingrid",
        "name": "Dr. Ingrid Hoffmann",
        "email": "ingrid.0@acme.example",
        "preferred_username": "ingrid",
        "roles": ["participant"],
        "tenant": "default",
        "employee_id": "E-1000",
    }
    assert httpx.get(idp.userinfo_endpoint).status_code == 401
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert httpx.get(idp.userinfo_endpoint, headers={"Authorization": f"Bearer {tampered}"}).status_code == 401


def test_rotate_key(idp: LocalIdentityProvider) -> None:
    old_token = idp.user_token("hr")
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    new_kid = idp.rotate_key()
    new_token = idp.client_credentials_token("tandem-cli")

    assert new_kid != old_kid
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    published = {k["kid"] for k in httpx.get(idp.jwks_uri).json()["keys"]}
    assert {old_kid, new_kid} <= published
    assert verify(idp, new_token)["roles"] == ["operator"]
    assert verify(idp, old_token)["sub"] == "hr"  # tokens from before the rotation still verify


def test_single_sign_on_and_logout(idp: LocalIdentityProvider) -> None:
    verifier, challenge = pkce()
    with httpx.Client() as browser:
        code = authorize(browser, idp, "lena", **challenge)["code"][0]
        tokens = redeem(idp, code, verifier).json()

        # Signed in at the provider: the next application's request gets a code without the form.
        again = sign_in_form(browser, idp, **pkce()[1])
        assert again.status_code == 302
        assert "code=" in again.headers["location"]

        logout = browser.get(
            f"{idp.issuer}/logout",
            params={
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": "http://127.0.0.1:8001/",
                "state": "bye",
            },
        )
        assert logout.status_code == 302
        assert logout.headers["location"] == "http://127.0.0.1:8001/?state=bye"

        # Signed out: the form again.
        assert sign_in_form(browser, idp, **pkce()[1]).status_code == 200


def test_logout_never_redirects_to_an_unregistered_uri(idp: LocalIdentityProvider) -> None:
    tokens = idp.sign_in("lena")
    logout = httpx.get(
        f"{idp.issuer}/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://attacker.example/"},
    )
    assert logout.status_code == 200
    assert "location" not in logout.headers
    assert "signed out" in logout.text


async def test_async_helpers(idp: LocalIdentityProvider) -> None:
    person = await idp.async_user_token("operator")
    machine = await idp.async_client_credentials_token("tandem-hr-platform")

    assert verify(idp, person)["roles"] == ["operator"]
    assert verify(idp, machine)["roles"] == ["integration"]


def test_logout_without_id_token_hint_asks_first(idp: LocalIdentityProvider) -> None:
    params = {"client_id": WEB, "post_logout_redirect_uri": "http://127.0.0.1:8002/"}
    with httpx.Client() as browser:
        page = browser.get(f"{idp.issuer}/logout", params=params)
        assert page.status_code == 200
        assert "Sign out" in page.text

        confirmed = browser.post(f"{idp.issuer}/logout", data=params)

    assert confirmed.status_code == 302
    assert confirmed.headers["location"] == "http://127.0.0.1:8002/"
