"""The provider as a running thing: a threaded werkzeug server on 127.0.0.1, and helpers that get tokens the
way an application does, over HTTP (never by signing something on the side)."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Generator, Iterable
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from shared.identity_provider.model import DEMO_PASSWORD, Client, DemoUser, default_demo
from shared.identity_provider.server import State, create_app

# One HTTP exchange of a flow: method, URL and httpx keyword arguments. The flows are generators of these so
# that one implementation serves the sync and the async helpers.
_Call = tuple[str, str, dict[str, Any]]
_Flow = Generator[_Call, httpx.Response, dict[str, Any]]


class IdentityProviderError(RuntimeError):
    """The provider refused a step of a flow (the message has the status and body)."""


def _expect(response: httpx.Response, status: int, step: str) -> httpx.Response:
    if response.status_code != status:
        raise IdentityProviderError(f"{step}: HTTP {response.status_code}: {response.text[:500]}")
    return response


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request (werkzeug's default prints one to stderr)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class LocalIdentityProvider:
    """A real OpenID Connect provider for `tandem up` and tests.

    >>> with LocalIdentityProvider() as idp:  # the demo users and clients
    ...     token = idp.user_token("lena")

    `users`/`clients` default to default_demo()'s; pass lists to start with others (or none).
    """

    def __init__(
        self,
        users: Iterable[DemoUser] | None = None,
        clients: Iterable[Client] | None = None,
        *,
        audience: str = "tandem",
        port: int = 0,
        access_token_ttl: int = 3600,
    ) -> None:
        demo = default_demo()
        self._users = {u.username: u for u in (demo.users if users is None else users)}
        self._clients = {c.client_id: c for c in (demo.clients if clients is None else clients)}
        self.audience = audience
        self._port = port
        self._ttl = access_token_ttl
        self._state: State | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("already started")
        # Bind first (port 0 picks a free one, with no window for another process to take it), then build the
        # app: the issuer is the bound address.
        app: Any = None
        server = make_server(
            "127.0.0.1", self._port, lambda env, start: app(env, start), threaded=True, request_handler=_QuietHandler
        )
        issuer = f"http://127.0.0.1:{server.server_port}"
        self._state = State(issuer, self.audience, self._ttl, self._users, self._clients)
        app = create_app(self._state)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="identity-provider", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def state(self) -> State:
        if self._state is None:
            raise RuntimeError("the identity provider is not started")
        return self._state

    # -- where it is -----------------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        return self.state.issuer

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/jwks"

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.issuer}/authorize"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/token"

    @property
    def userinfo_endpoint(self) -> str:
        return f"{self.issuer}/userinfo"

    # -- who is known (at any time, also while running) ---------------------------------------------------

    @property
    def users(self) -> dict[str, DemoUser]:
        return self._users

    @property
    def clients(self) -> dict[str, Client]:
        return self._clients

    def add_user(self, user: DemoUser) -> DemoUser:
        """Register (or replace) a person; they can sign in at once."""
        self._users[user.username] = user
        return user

    def add_client(self, client: Client) -> Client:
        """Register (or replace) an application."""
        self._clients[client.client_id] = client
        return client

    def rotate_key(self) -> str:
        """Make a new signing key and sign with it from now on; the old key stays in the JWKS. Returns the new
        kid."""
        return self.state.keys.rotate()

    @property
    def kid(self) -> str:
        """The kid of the key that signs now."""
        return self.state.keys.kid

    # -- tokens, through the real flows ------------------------------------------------------------------

    def client_credentials_token(self, client_id: str, secret: str | None = None, scope: str | None = None) -> str:
        """An access token for an application acting as itself (client_secret_basic). `secret` defaults to
        the registered one."""
        return str(_run(self._client_credentials_flow(client_id, secret, scope))["access_token"])

    def sign_in(
        self, username: str, client_id: str = "tandem-web", *, scope: str | None = None, nonce: str | None = None
    ) -> dict[str, Any]:
        """The whole token response (access_token, id_token, refresh_token, ...) after `username` signs in to
        `client_id` with Authorization Code + PKCE: GET the authorization endpoint, POST the sign-in form with
        the user's password, take the code from the redirect, redeem it with the code verifier."""
        return _run(self._sign_in_flow(username, client_id, scope, nonce))

    def user_token(self, username: str, client_id: str = "tandem-web") -> str:
        """An access token for `username`, through sign_in."""
        return str(self.sign_in(username, client_id)["access_token"])

    def refresh(self, refresh_token: str, client_id: str = "tandem-web") -> dict[str, Any]:
        """Redeem a refresh token: the new token response (with a new refresh token: they rotate)."""
        return _run(self._refresh_flow(refresh_token, client_id))

    async def async_client_credentials_token(
        self, client_id: str, secret: str | None = None, scope: str | None = None
    ) -> str:
        return str((await _arun(self._client_credentials_flow(client_id, secret, scope)))["access_token"])

    async def async_sign_in(
        self, username: str, client_id: str = "tandem-web", *, scope: str | None = None, nonce: str | None = None
    ) -> dict[str, Any]:
        return await _arun(self._sign_in_flow(username, client_id, scope, nonce))

    async def async_user_token(self, username: str, client_id: str = "tandem-web") -> str:
        return str((await self.async_sign_in(username, client_id))["access_token"])

    # -- the flows ---------------------------------------------------------------------------------------

    def _client_auth(self, client: Client, secret: str | None = None) -> dict[str, Any]:
        if client.is_public:
            return {"data": {"client_id": client.client_id}}
        return {"auth": (client.client_id, secret if secret is not None else client.secret)}

    def _client_credentials_flow(self, client_id: str, secret: str | None, scope: str | None) -> _Flow:
        client = self._clients[client_id]
        auth = self._client_auth(client, secret)
        data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        response = yield "POST", self.token_endpoint, {**auth, "data": {**auth.get("data", {}), **data}}
        return dict(_expect(response, 200, "client credentials").json())

    def _sign_in_flow(self, username: str, client_id: str, scope: str | None, nonce: str | None) -> _Flow:
        user, client = self._users[username], self._clients[client_id]
        return _code_flow(
            self.issuer,
            client.client_id,
            self._client_auth(client),
            client.redirect_uris[0],
            user.username,
            user.password,
            scope or client.scope,
            nonce,
        )

    def _refresh_flow(self, refresh_token: str, client_id: str) -> _Flow:
        auth = self._client_auth(self._clients[client_id])
        data = {**auth.get("data", {}), "grant_type": "refresh_token", "refresh_token": refresh_token}
        response = yield "POST", self.token_endpoint, {**auth, "data": data}
        return dict(_expect(response, 200, "refresh").json())


def _code_flow(
    issuer: str,
    client_id: str,
    client_auth: dict[str, Any],
    redirect_uri: str,
    username: str,
    password: str,
    scope: str,
    nonce: str | None,
) -> _Flow:
    """Authorization code with PKCE, as a browser does it: the sign-in page, the form, the code, the exchange."""
    verifier = secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(16)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
        **({"nonce": nonce} if nonce else {}),
    }
    page = _expect((yield "GET", f"{issuer}/authorize", {"params": params}), 200, "authorization request")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    if csrf is None:
        raise IdentityProviderError("the sign-in page has no form")
    form = {"csrf": csrf.group(1), "username": username, "password": password}
    redirect = _expect((yield "POST", str(page.url), {"data": form}), 302, "sign-in")
    location = redirect.headers["location"]
    query = parse_qs(urlsplit(location).query)
    if not location.startswith(redirect_uri) or query.get("state") != [state] or "code" not in query:
        raise IdentityProviderError(f"sign-in redirected to {location}")
    exchange = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    response = yield "POST", f"{issuer}/token", {**client_auth, "data": {**client_auth.get("data", {}), **exchange}}
    return dict(_expect(response, 200, "code exchange").json())


def sign_in(
    issuer: str,
    username: str,
    *,
    password: str = DEMO_PASSWORD,
    client_id: str = "tandem-web",
    redirect_uri: str = "http://127.0.0.1:8001/auth/callback",
    scope: str = "openid profile email",
) -> str:
    """An access token for a user of a provider running elsewhere (e.g. `tandem up`'s), through its sign-in
    page with a public client: what a person does in the browser, done over HTTP."""
    flow = _code_flow(
        issuer, client_id, {"data": {"client_id": client_id}}, redirect_uri, username, password, scope, None
    )
    return str(_run(flow)["access_token"])


def _run(flow: _Flow) -> dict[str, Any]:
    # A client of its own per flow: its cookie jar is the browser of one sign-in, so nobody is signed in yet.
    # trust_env off: the provider is on 127.0.0.1, and a developer's HTTP(S)_PROXY must not route there.
    with httpx.Client(timeout=10, trust_env=False) as http:
        call = next(flow)
        while True:
            method, url, kwargs = call
            try:
                call = flow.send(http.request(method, url, **kwargs))
            except StopIteration as done:
                result: dict[str, Any] = done.value
                return result


async def _arun(flow: _Flow) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
        call = next(flow)
        while True:
            method, url, kwargs = call
            try:
                call = flow.send(await http.request(method, url, **kwargs))
            except StopIteration as done:
                result: dict[str, Any] = done.value
                return result
