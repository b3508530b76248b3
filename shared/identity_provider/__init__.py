"""A local OpenID Connect provider for `tandem up` and the tests: real OAuth flows, real signed tokens.

Production signs people in with Microsoft Entra ID, Keycloak or Okta; the services only ever see a Bearer
JWT that they verify against the provider's discovery document and JWKS. This provider gives them the
same on a machine with nothing but Python: discovery, JWKS (with key rotation), Authorization Code + PKCE
(S256) with a small sign-in page, refresh tokens, client credentials, userinfo and RP-initiated logout,
on 127.0.0.1. Access tokens are RFC 9068 JWTs (RS256, typ at+jwt) with Tandem's claims: roles, tenant,
employee_id, name, email, preferred_username.

    with LocalIdentityProvider(audience="tandem") as idp:
        hr = idp.client_credentials_token("tandem-hr-platform")
        lena = idp.user_token("lena")
"""

from shared.identity_provider.model import (
    AUTHORIZATION_CODE,
    CLIENT_CREDENTIALS,
    DEFAULT_TENANT,
    DEMO_PASSWORD,
    REFRESH_TOKEN,
    Client,
    Demo,
    DemoUser,
    default_demo,
)
from shared.identity_provider.provider import IdentityProviderError, LocalIdentityProvider, sign_in

__all__ = [
    "AUTHORIZATION_CODE",
    "CLIENT_CREDENTIALS",
    "DEFAULT_TENANT",
    "DEMO_PASSWORD",
    "REFRESH_TOKEN",
    "Client",
    "Demo",
    "DemoUser",
    "IdentityProviderError",
    "LocalIdentityProvider",
    "default_demo",
    "sign_in",
]
