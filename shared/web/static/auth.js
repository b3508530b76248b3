// Sign-in for Tandem's browser pages (every service serves this file at /web/static/auth.js): OpenID Connect Authorization Code with PKCE (S256), as a public client.
// No library: the Web Crypto API makes the verifier and its SHA-256 challenge. The access token stays in this
// tab's sessionStorage (gone when the tab closes) and goes as a Bearer token with every API call; the API, not
// this page, verifies it. What the page reads from the token (name, roles, expiry) is only for display.
"use strict";

const TandemAuth = (() => {
  const SESSION = "tandem.auth";         // {access_token, id_token, expires_at, name, roles, tenant, locale, signed_in_at}
  const PENDING = "tandem.auth.pending"; // {state, nonce, verifier, return_to}: between leaving and coming back
  const SKEW = 30;                       // seconds: a token this close to expiry is treated as expired

  const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
  const now = () => Date.now() / 1000;

  function claims(jwt) {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = part + "=".repeat((4 - (part.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  let configured = null;
  async function config() {
    if (configured) return configured;
    const res = await fetch("/auth/config");
    if (!res.ok) throw new Error(`sign-in is not configured here (/auth/config: ${res.status})`);
    const cfg = await res.json();
    const found = await fetch(`${cfg.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
    if (!found.ok) throw new Error(`the identity provider ${cfg.issuer} does not answer (${found.status})`);
    cfg.provider = await found.json();
    if (cfg.provider.issuer !== cfg.issuer) throw new Error(`the provider at ${cfg.issuer} names another issuer`);
    configured = cfg;
    return cfg;
  }

  function read(key) {
    try { return JSON.parse(sessionStorage.getItem(key) || "null"); } catch { return null; }
  }

  /** The signed-in session of this tab, or null (none, or expired). */
  function current() {
    const session = read(SESSION);
    if (!session || !session.access_token || session.expires_at - SKEW <= now()) return null;
    return session;
  }

  /** Leave for the provider's sign-in page; the callback page brings the browser back to `returnTo`. */
  async function signIn(returnTo) {
    const cfg = await config();
    const verifier = random(48);
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    const pending = { state: random(16), nonce: random(16), verifier,
                      return_to: returnTo || `${location.pathname}${location.search}` };
    sessionStorage.setItem(PENDING, JSON.stringify(pending));
    const url = new URL(cfg.provider.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: "code", client_id: cfg.client_id, redirect_uri: cfg.redirect_uri, scope: cfg.scope,
      state: pending.state, nonce: pending.nonce, code_challenge: b64url(digest), code_challenge_method: "S256",
    }).toString();
    location.assign(url.toString());
    return new Promise(() => {}); // the page is leaving
  }

  /** On /auth/callback: check the state, redeem the code with the verifier, keep the token, go back. */
  async function complete() {
    const params = new URLSearchParams(location.search);
    const pending = read(PENDING);
    sessionStorage.removeItem(PENDING); // one use, whatever happens
    if (params.get("error")) {
      throw new Error(`the identity provider said ${params.get("error")}: ${params.get("error_description") || ""}`);
    }
    if (!pending || !params.get("state") || params.get("state") !== pending.state) {
      throw new Error("this sign-in answer is not for a request of this tab (state does not match): sign in again");
    }
    const cfg = await config();
    const res = await fetch(cfg.provider.token_endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code", code: params.get("code") || "", redirect_uri: cfg.redirect_uri,
        client_id: cfg.client_id, code_verifier: pending.verifier,
      }),
    });
    const tokens = await res.json().catch(() => ({}));
    if (!res.ok || !tokens.access_token) {
      throw new Error(`the code could not be redeemed: ${tokens.error_description || tokens.error || res.status}`);
    }
    if (tokens.id_token && claims(tokens.id_token).nonce !== pending.nonce) {
      throw new Error("the ID token is not for this sign-in (nonce does not match)");
    }
    const access = claims(tokens.access_token);
    sessionStorage.setItem(SESSION, JSON.stringify({
      access_token: tokens.access_token, id_token: tokens.id_token || null,
      expires_at: access.exp || now() + (tokens.expires_in || 300),
      name: access.name || access.preferred_username || access.sub, roles: access.roles || [],
      tenant: access.tenant || "", signed_in_at: now(),
      locale: access.locale || (tokens.id_token && claims(tokens.id_token).locale) || "",
    }));
    const back = pending.return_to || "";
    location.replace(back.startsWith("/") && !back.startsWith("//") ? back : cfg.home || "/"); // this site only
  }

  /** fetch() with the token; signs in first when there is none, and again when the API says it expired. */
  async function api(url, options = {}) {
    const session = current();
    if (!session) return signIn();
    const headers = { ...(options.headers || {}), authorization: `Bearer ${session.access_token}` };
    let res;
    try {
      res = await fetch(url, { ...options, headers });
    } catch (cause) { // no answer at all (the service is down or restarting, the network is gone): say so
      const said = typeof TandemI18n !== "undefined" ? TandemI18n.t("net.unreachable") : "net.unreachable";
      const err = new Error(said === "net.unreachable" ? `${new URL(url, location.href).origin} does not answer` : said);
      err.status = 0; err.network = true; err.cause = cause;
      throw err;
    }
    if (res.status === 401) {
      sessionStorage.removeItem(SESSION);
      if (now() - session.signed_in_at < 15) { // just signed in and refused at once: do not go round in circles
        const body = await res.json().catch(() => ({}));
        throw new Error(`the API refused the sign-in: ${(body.error && body.error.message) || res.status}`);
      }
      return signIn();
    }
    return res;
  }

  /** Forget the token and end the session at the provider, which then sends the browser back here. */
  async function signOut() {
    const session = read(SESSION);
    sessionStorage.removeItem(SESSION);
    const cfg = await config();
    const end = cfg.provider.end_session_endpoint;
    if (!end) { location.assign(cfg.home || "/"); return; }
    const params = { client_id: cfg.client_id, post_logout_redirect_uri: cfg.post_logout_redirect_uri };
    if (session && session.id_token) params.id_token_hint = session.id_token;
    const url = new URL(end);
    url.search = new URLSearchParams(params).toString();
    location.assign(url.toString());
  }

  /** The public base URL of a service's API ("pairing", "sessions", "notifications"), from /auth/config. */
  async function base(service) {
    const cfg = await config();
    const url = cfg.apis && cfg.apis[service];
    if (!url) throw new Error(`no URL for the ${service} service in /auth/config`);
    return url;
  }

  /** api() with JSON: a service's path, optional body; resolves to the parsed answer, or throws an Error whose
   *  message is the API's own (it names the field) and whose `status` and `field` are set. */
  async function json(service, path, { method = "GET", body, headers = {} } = {}) {
    const init = { method, headers: { ...headers } };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) { init.body = JSON.stringify(body); init.headers["content-type"] = "application/json"; }
    const res = await api(`${await base(service)}${path}`, init);
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = text; }
    if (!res.ok) {
      const error = (data && data.error) || {};
      const err = new Error(error.message || (typeof data === "string" && data) || `${method} ${path}: ${res.status}`);
      err.status = res.status; err.field = error.field || null; err.errors = (data && data.errors) || []; err.details = error.details || [];
      throw err;
    }
    return data;
  }

  return { current, signIn, complete, api, signOut, base, json, config };
})();
