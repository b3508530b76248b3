"""The provider itself: a Flask app around authlib's AuthorizationServer, everything kept in memory.

authlib does the protocol (request validation, client authentication, PKCE, ID tokens, RP-initiated
logout, error responses); this module supplies storage, the sign-in page, the signing keys and the claims.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar
from uuid import uuid4

import flask
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    ClientMixin,
    InvalidRequestError,
    RefreshTokenGrant,
    list_to_scope,
    scope_to_list,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from authlib.oidc.core import OpenIDCode, UserInfo
from authlib.oidc.rpinitiated import EndSessionEndpoint
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from shared.identity_provider.model import Client, DemoUser

ALG = "RS256"
CODE_TTL = 300  # seconds; RFC 6749 §4.1.2 recommends at most ten minutes
REFRESH_TTL = 24 * 3600
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
SECRET_METHODS = ["client_secret_basic", "client_secret_post"]


class SigningKeys:
    """Every key ever made is published in the JWKS (tokens signed before a rotation still verify); the newest
    one signs."""

    def __init__(self) -> None:
        self._keys: list[RSAKey] = []
        self.rotate()

    def rotate(self) -> str:
        key = RSAKey.generate_key(2048, parameters={"alg": ALG, "use": "sig"}, auto_kid=True)
        self._keys.append(key)
        return self.kid

    @property
    def kid(self) -> str:
        return str(self._keys[-1].kid)

    @property
    def signing(self) -> KeySet:
        # A set rather than the bare key: joserfc then writes the key's kid into the JWS header.
        return KeySet([self._keys[-1]])

    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [dict(key.as_dict(private=False)) for key in self._keys]}

    @property
    def public(self) -> KeySet:
        return KeySet.import_key_set(self.public_jwks())  # type: ignore[arg-type]


@dataclass
class _Code:
    code: str
    client_id: str
    username: str
    redirect_uri: str | None
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int
    expires_at: float

    # authlib's AuthorizationCodeMixin, for the grant and the OpenID Connect extension
    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> list[str]:
        return ["pwd"]


@dataclass
class _RefreshToken:
    token: str
    client_id: str
    username: str
    scope: str
    expires_at: float

    # authlib's TokenMixin, as far as the refresh-token grant uses it
    def check_client(self, client: _ClientView) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope


@dataclass
class State:
    """What the provider knows. Plain dicts: request threads and the owning thread only ever do single,
    atomic operations on them (get, set, pop)."""

    issuer: str
    audience: str
    access_token_ttl: int
    users: dict[str, DemoUser]
    clients: dict[str, Client]
    keys: SigningKeys = field(default_factory=SigningKeys)
    codes: dict[str, _Code] = field(default_factory=dict)
    refresh_tokens: dict[str, _RefreshToken] = field(default_factory=dict)
    nonces: set[str] = field(default_factory=set)


class _ClientView(ClientMixin):  # type: ignore[misc]
    """authlib's view of a registered Client."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.client_id = client.client_id
        self.client_metadata = {"post_logout_redirect_uris": list(client.post_logout_redirect_uris)}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.client.redirect_uris[0] if self.client.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        # No scope asked for: the client's whole scope (RFC 6749 §3.3 lets the server pick a default).
        if not scope:
            return self.client.scope
        allowed = set(scope_to_list(self.client.scope))
        return str(list_to_scope([s for s in scope_to_list(scope) if s in allowed]))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string match only (RFC 9700 §4.1.3): no prefixes, no wildcard ports. Tests whose callback runs
        # on a random port register a client with that exact URI.
        return redirect_uri in self.client.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        secret = self.client.secret
        return secret is not None and secrets.compare_digest(secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint != "token":
            return True
        return method == "none" if self.client.is_public else method in SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.client.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.client.grant_types


class _Server(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, state: State) -> None:
        super().__init__()
        self.state = state

    def query_client(self, client_id: str) -> _ClientView | None:
        client = self.state.clients.get(client_id)
        return _ClientView(client) if client else None

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        # Access tokens are self-contained JWTs and need no storage; refresh tokens are opaque and do.
        if "refresh_token" in token:
            self.state.refresh_tokens[token["refresh_token"]] = _RefreshToken(
                token=token["refresh_token"],
                client_id=request.client.client_id,
                username=request.user.username,
                scope=token.get("scope", ""),
                expires_at=time.time() + REFRESH_TTL,
            )


def _state(grant: Any) -> State:
    server: _Server = grant.server
    return server.state


class _AuthorizationCodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def save_authorization_code(self, code: str, request: Any) -> None:
        state = _state(self)
        nonce = request.payload.data.get("nonce")
        if nonce:
            state.nonces.add(nonce)
        state.codes[code] = _Code(
            code=code,
            client_id=request.client.client_id,
            username=request.user.username,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            nonce=nonce,
            code_challenge=request.payload.data.get("code_challenge"),
            code_challenge_method=request.payload.data.get("code_challenge_method"),
            auth_time=int(flask.session.get("auth_time", time.time())),
            expires_at=time.time() + CODE_TTL,
        )

    def query_authorization_code(self, code: str, client: _ClientView) -> _Code | None:
        # Popped, not read: a code is good for one redemption attempt, even when two arrive at the same time.
        found = _state(self).codes.pop(code, None)
        if found is None or found.client_id != client.client_id or found.expires_at < time.time():
            return None
        return found

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        pass  # already gone: see query_authorization_code

    def authenticate_user(self, authorization_code: _Code) -> DemoUser | None:
        return _state(self).users.get(authorization_code.username)


class _RefreshTokenGrant(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: each refresh token is good once, as Entra ID and Okta do for SPAs

    def authenticate_refresh_token(self, refresh_token: str) -> _RefreshToken | None:
        found = _state(self).refresh_tokens.get(refresh_token)
        return found if found is not None and found.expires_at > time.time() else None

    def authenticate_user(self, refresh_token: _RefreshToken) -> DemoUser | None:
        return _state(self).users.get(refresh_token.username)

    def revoke_old_credential(self, refresh_token: _RefreshToken) -> None:
        _state(self).refresh_tokens.pop(refresh_token.token, None)


class _ClientCredentialsGrant(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_METHODS  # authlib's default is client_secret_basic alone


class _S256Only(CodeChallenge):  # type: ignore[misc]
    """PKCE as OAuth 2.1 has it: S256 only (plain and an omitted method are refused), and public clients must
    use it. Confidential clients may."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        client: _ClientView = grant.request.client
        if client.client.is_public and not data.get("code_challenge"):
            raise InvalidRequestError("Public clients must send a 'code_challenge' (PKCE, S256).")
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class _IdTokens(OpenIDCode):  # type: ignore[misc]
    def __init__(self, state: State) -> None:
        super().__init__(require_nonce=False)
        self.state = state

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return nonce in self.state.nonces

    def resolve_client_private_key(self, client: _ClientView) -> KeySet:
        return self.state.keys.signing

    def get_client_algorithm(self, client: _ClientView) -> str:
        return ALG

    def get_client_claims(self, client: _ClientView) -> dict[str, Any]:
        return {
            "iss": self.state.issuer,
            "aud": client.client_id,
            "exp": int(time.time()) + self.state.access_token_ttl,
        }

    def generate_user_info(self, user: DemoUser, scope: str) -> UserInfo:
        return UserInfo(sub=user.username, **user.claims()).filter(scope)


class _AccessTokenValidator(JWTBearerTokenValidator):  # type: ignore[misc]
    def __init__(self, state: State) -> None:
        super().__init__(issuer=state.issuer, resource_server=state.audience)
        self.state = state

    def get_jwks(self) -> KeySet:
        return self.state.keys.public


class _EndSession(EndSessionEndpoint):  # type: ignore[misc]
    def __init__(self, state: State) -> None:
        super().__init__()
        self.state = state

    def get_server_jwks(self) -> KeySet:
        return self.state.keys.public

    def get_algorithms(self) -> list[str]:
        return [ALG]

    def is_post_logout_redirect_uri_legitimate(self, request: Any, uri: str, client: Any, hint: str | None) -> bool:
        # Without an id_token_hint the person confirms on our page first (a POST); then a registered URI is fine.
        return bool(request.method == "POST")

    def end_session(self, end_session_request: Any) -> None:
        flask.session.clear()


def access_token_claims(state: State, client: Client, user: DemoUser | None, scope: str, ttl: int) -> dict[str, Any]:
    """RFC 9068 claims plus Tandem's. A person's token carries the person; a client-credentials token the
    client itself (sub = client id), with the roles and tenant of its registration."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": state.issuer,
        "aud": state.audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid4().hex,
        "client_id": client.client_id,
        "scope": scope,
    }
    if user is not None:
        claims.update(sub=user.username, **user.claims())
    else:
        claims.update(sub=client.client_id, roles=list(client.roles))
        if client.tenant is not None:
            claims["tenant"] = client.tenant
    return claims


def _token_generator(state: State) -> BearerTokenGenerator:
    # authlib's rfc9068.JWTBearerTokenGenerator sets no nbf, which the services check; so the claims are ours
    # (access_token_claims) and authlib's BearerTokenGenerator shapes the response around them.
    def access_token(client: _ClientView, grant_type: str, user: DemoUser | None, scope: str) -> str:
        claims = access_token_claims(state, client.client, user, scope, state.access_token_ttl)
        return jwt.encode({"alg": ALG, "typ": "at+jwt"}, claims, state.keys.signing, algorithms=[ALG])

    def refresh_token(**_: Any) -> str:
        return secrets.token_urlsafe(32)

    return BearerTokenGenerator(access_token, refresh_token, state.access_token_ttl)


def _flask(response: Any) -> flask.Response:
    """authlib's Flask integration answers with Flask responses; it is untyped, so say so once."""
    assert isinstance(response, flask.Response)
    return response


def _cors(response: flask.Response) -> flask.Response:
    # Browser pages do PKCE from JavaScript: they read discovery and JWKS and call token and userinfo across
    # origins. None of these endpoints relies on cookies, so any origin may.
    if flask.request.path in ("/.well-known/openid-configuration", "/jwks", "/token", "/userinfo"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    return response


def create_app(state: State) -> flask.Flask:
    app = flask.Flask(__name__)
    app.secret_key = secrets.token_bytes(32)  # sessions live as long as the process
    # Cookies do not tell ports apart: a name of our own keeps the services' cookies on 127.0.0.1 out of ours.
    app.config["SESSION_COOKIE_NAME"] = f"tandem_idp_{state.issuer.rsplit(':', 1)[-1]}"
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"

    server = _Server(state)
    server.init_app(app)
    server.register_token_generator("default", _token_generator(state))
    server.register_grant(_AuthorizationCodeGrant, [_S256Only(required=True), _IdTokens(state)])
    server.register_grant(_RefreshTokenGrant)
    server.register_grant(_ClientCredentialsGrant)
    server.register_endpoint(_EndSession(state))
    protected = ResourceProtector()
    protected.register_token_validator(_AccessTokenValidator(state))
    app.after_request(_cors)

    def signed_in() -> DemoUser | None:
        return state.users.get(flask.session.get("user", ""))

    def error_page(error: str, description: str, status: int = 400) -> flask.typing.ResponseReturnValue:
        return flask.render_template("error.html", error=error, description=description), status

    def sign_in_page(grant: Any, message: str | None = None) -> flask.typing.ResponseReturnValue:
        flask.session["csrf"] = csrf = secrets.token_urlsafe(16)
        users = sorted(state.users.values(), key=lambda u: (u.tenant, u.username))
        client = grant.client.client
        return flask.render_template("sign_in.html", client=client, users=users, csrf=csrf, message=message)

    @app.get("/")
    def home() -> flask.typing.ResponseReturnValue:
        return flask.redirect("/.well-known/openid-configuration")

    @app.get("/.well-known/openid-configuration")
    def discovery() -> dict[str, Any]:
        scopes = sorted({s for c in state.clients.values() for s in scope_to_list(c.scope)} | {"openid"})
        return {
            "issuer": state.issuer,
            "authorization_endpoint": f"{state.issuer}/authorize",
            "token_endpoint": f"{state.issuer}/token",
            "jwks_uri": f"{state.issuer}/jwks",
            "userinfo_endpoint": f"{state.issuer}/userinfo",
            "end_session_endpoint": f"{state.issuer}/logout",
            "scopes_supported": scopes,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALG],
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "claims_supported": ["sub", "name", "email", "preferred_username", "roles", "tenant", "employee_id"],
        }

    @app.get("/jwks")
    def jwks() -> dict[str, Any]:
        return state.keys.public_jwks()

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize() -> flask.typing.ResponseReturnValue:
        user = signed_in()
        try:
            grant = server.get_consent_grant(end_user=user)
        except OAuth2Error as error:
            if error.redirect_uri:  # the client and its redirect URI are known good: tell the client
                return _flask(server.handle_error_response(None, error))
            return error_page(error.error, error.get_error_description())  # never redirect to an unknown URI
        form = flask.request.form
        if flask.request.method == "GET":
            if user is None or grant.prompt == "login":
                return sign_in_page(grant)
            return _flask(server.create_authorization_response(grant_user=user, grant=grant))

        if not secrets.compare_digest(form.get("csrf", ""), flask.session.pop("csrf", "")):
            return error_page("invalid_request", "The sign-in form has expired; go back and try again.")
        if "cancel" in form:
            return _flask(server.create_authorization_response(grant_user=None, grant=grant))
        if "pick" in form:  # one click on a listed person: the point of a local provider
            user = state.users.get(form["pick"])
        else:
            candidate = state.users.get(form.get("username", "").strip())
            password = form.get("password", "")
            ok = candidate is not None and secrets.compare_digest(candidate.password.encode(), password.encode())
            user = candidate if ok else None
        if user is None:
            return sign_in_page(grant, "Unknown user name or wrong password.")
        flask.session["user"] = user.username
        flask.session["auth_time"] = int(time.time())
        return _flask(server.create_authorization_response(grant_user=user, grant=grant))

    @app.post("/token")
    def token() -> flask.typing.ResponseReturnValue:
        return _flask(server.create_token_response())

    @app.route("/userinfo", methods=["GET", "POST"])
    def userinfo() -> flask.typing.ResponseReturnValue:
        try:
            claims = protected.acquire_token(["openid"])
        except OAuth2Error as error:
            return _flask(server.handle_response(*error()))  # 401 or 403 with WWW-Authenticate, per RFC 6750
        user = state.users.get(claims["sub"])
        if user is None:
            return {"error": "invalid_token", "error_description": "The person is no longer known."}, 401
        return {"sub": user.username, **user.claims()}

    @app.route("/logout", methods=["GET", "POST"])
    def logout() -> flask.typing.ResponseReturnValue:
        try:
            request = server.validate_endpoint_request("end_session")
        except OAuth2Error as error:
            return error_page(error.error, error.get_error_description())
        if request.needs_confirmation and flask.request.method == "GET":
            return flask.render_template("logout.html", params=flask.request.args, user=signed_in())
        redirect = server.create_endpoint_response("end_session", request)  # None: no (legitimate) redirect URI
        return _flask(redirect) if redirect is not None else flask.render_template("signed_out.html")

    return app
