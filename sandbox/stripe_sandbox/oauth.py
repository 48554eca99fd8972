"""Connect OAuth for standard accounts (connect.stripe.com/oauth/...; docs.stripe.com/connect/oauth-reference).

`GET /oauth/authorize` shows a consent page (or, with `state.oauth_auto_approve`, redirects at once); its
form posts to `/oauth/authorize/decision`, which redirects to `redirect_uri` with `code` and `state` (or
`error=access_denied`). `POST /oauth/token` swaps the single-use code (5 minutes) or a refresh token for an
access token that acts as the connected account's secret key. `POST /oauth/deauthorize` disconnects the
account and revokes its tokens. Errors use the OAuth shape `{"error": "...", "error_description": "..."}`,
which stripe-python maps to `stripe.oauth_error.*`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from sandbox.stripe_sandbox import accounts
from sandbox.stripe_sandbox.http import Request, Response

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.state import StripeState

CODE_TTL = 300


@dataclass
class Grant:
    account_id: str
    scope: str
    created: float
    used: bool = False
    tokens: list[str] = field(default_factory=list)


@dataclass
class OAuthRegistry:
    codes: dict[str, Grant] = field(default_factory=dict)
    access_tokens: dict[str, str | None] = field(default_factory=dict)  # token -> account (None: revoked)
    refresh_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # token -> (account, scope)
    redirect_uris: list[str] = field(default_factory=list)  # registered; the first is the default

    def account_for(self, key: str) -> tuple[bool, str | None]:
        """(is an OAuth token, its account or None when revoked)."""
        if key in self.access_tokens:
            return True, self.access_tokens[key]
        return False, None


def _error(status: int, code: str, description: str) -> Response:
    return Response.json(status, {"error": code, "error_description": description})


def _redirect(target: str, params: dict[str, str]) -> Response:
    sep = "&" if "?" in target else "?"
    return Response(302, b"", {"location": target + sep + urlencode(params)}, "text/plain")


def _check_request(st: StripeState, form: dict[str, str]) -> Response | str:
    """The redirect target, or the error page for a request that cannot be redirected."""
    if form.get("client_id") != st.connect_client_id:
        return _error(400, "invalid_client", f"No such application: '{form.get('client_id', '')}'")
    if form.get("response_type", "code") != "code":
        return _error(400, "unsupported_response_type", "Only response_type=code is supported.")
    if form.get("scope", "read_only") not in ("read_only", "read_write"):
        return _error(400, "invalid_scope", f"Invalid scope: {form.get('scope')}")
    target = form.get("redirect_uri") or (st.oauth.redirect_uris[0] if st.oauth.redirect_uris else "")
    if not target or (st.oauth.redirect_uris and target not in st.oauth.redirect_uris):
        return _error(400, "invalid_request", f"Invalid redirect URI '{target}'.")
    return target


def approve(st: StripeState, form: dict[str, str], *, account_id: str | None = None) -> str:
    """The user clicks Connect: connect (or create) their standard account and mint a code.
    Returns the redirect URL. Also the auto-approve helper for tests and the dev run."""
    with st.lock:
        checked = _check_request(st, form)
        if isinstance(checked, Response):
            raise ValueError(checked.body.decode())
        if account_id is not None:
            account = st.partition(account_id).require("account", account_id)
        else:
            email = form.get("stripe_user[email]") or None
            account = accounts.new_account(st, email=email, name=form.get("stripe_user[business_name]") or None)
        part = st.connect(account)
        code = "ac_" + st.random_chars(32)
        scope = form.get("scope", "read_only")
        st.oauth.codes[code] = Grant(account["id"], scope, st.controls.clock.timestamp())
        application = {"id": st.connect_client_id, "object": "application", "name": st.platform_name}
        st.op(part.account_id).emit("account.application.authorized", application)
        params = {"code": code, "scope": scope}
        if "state" in form:
            params["state"] = form["state"]
        return _redirect(checked, params).headers["location"]


def authorize_page(st: StripeState, req: Request) -> Response:
    form = req.form()
    checked = _check_request(st, form)
    if isinstance(checked, Response):
        return checked
    if st.oauth_auto_approve:
        return Response(302, b"", {"location": approve(st, form)}, "text/plain")
    hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in form.items())
    page = (
        "<!DOCTYPE html><html><head><title>Connect with Stripe (sandbox)</title></head><body>"
        f"<h1>{html.escape(st.platform_name)} would like to connect to your Stripe account</h1>"
        f"<p>Scope: {html.escape(form.get('scope', 'read_only'))}</p>"
        f'<form method="post" action="/oauth/authorize/decision">{hidden}'
        '<button name="decision" value="allow">Connect my Stripe account</button>'
        '<button name="decision" value="deny">Deny</button></form></body></html>'
    )
    return Response(200, page.encode(), {}, "text/html; charset=utf-8")


def decision(st: StripeState, req: Request) -> Response:
    form = req.form()
    choice = form.pop("decision", "deny")
    checked = _check_request(st, form)
    if isinstance(checked, Response):
        return checked
    if choice != "allow":
        params = {"error": "access_denied", "error_description": "The user denied your request"}
        if "state" in form:
            params["state"] = form["state"]
        return _redirect(checked, params)
    return Response(302, b"", {"location": approve(st, form)}, "text/plain")


def _secret_key_ok(st: StripeState, req: Request, form: dict[str, str]) -> bool:
    key = req.api_key() or form.get("client_secret")
    if not key:
        return False
    is_token, _ = st.oauth.account_for(key)
    return not is_token and (key in st.api_keys if st.api_keys else key.startswith("sk_test_"))


def _tokens(st: StripeState, account_id: str, scope: str) -> dict[str, object]:
    access = "sk_test_" + st.random_chars(99)
    refresh = "rt_" + st.random_chars(48)
    st.oauth.access_tokens[access] = account_id
    st.oauth.refresh_tokens[refresh] = (account_id, scope)
    return {
        "access_token": access,
        "livemode": False,
        "refresh_token": refresh,
        "token_type": "bearer",
        "stripe_publishable_key": "pk_test_" + st.random_chars(99),
        "stripe_user_id": account_id,
        "scope": scope,
    }


def token(st: StripeState, req: Request) -> Response:
    form = req.form()
    if not _secret_key_ok(st, req, form):
        return _error(401, "invalid_client", "No valid secret API key was provided (Authorization or client_secret).")
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        code = form.get("code", "")
        grant = st.oauth.codes.get(code)
        if grant is None:
            return _error(400, "invalid_grant", f"Authorization code does not exist: {code}")
        if grant.used:
            for t in grant.tokens:  # a replayed code revokes what it issued, per RFC 6749 10.5
                st.oauth.access_tokens[t] = None
            return _error(400, "invalid_grant", f"Authorization code provided has already been used: {code}")
        if st.controls.clock.timestamp() - grant.created > CODE_TTL:
            return _error(400, "invalid_grant", f"Authorization code expired: {code}")
        grant.used = True
        issued = _tokens(st, grant.account_id, grant.scope)
        grant.tokens.append(str(issued["access_token"]))
        return Response.json(200, issued)
    if grant_type == "refresh_token":
        found = st.oauth.refresh_tokens.get(form.get("refresh_token", ""))
        if found is None or found[0] not in st.connected:
            return _error(400, "invalid_grant", "Invalid refresh token.")
        return Response.json(200, _tokens(st, found[0], form.get("scope") or found[1]))
    return _error(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")


def deauthorize(st: StripeState, req: Request) -> Response:
    form = req.form()
    if not _secret_key_ok(st, req, form):
        return _error(401, "invalid_client", "No valid secret API key was provided (Authorization or client_secret).")
    if form.get("client_id") != st.connect_client_id:
        return _error(400, "invalid_client", f"No such application: '{form.get('client_id', '')}'")
    account_id = form.get("stripe_user_id", "")
    if account_id not in st.connected:
        return _error(
            400,
            "invalid_client",
            f"This application is not connected to stripe account {account_id}, or that account does not exist.",
        )
    st.connected.discard(account_id)
    for t, acct in st.oauth.access_tokens.items():
        if acct == account_id:
            st.oauth.access_tokens[t] = None
    st.oauth.refresh_tokens = {r: v for r, v in st.oauth.refresh_tokens.items() if v[0] != account_id}
    application = {"id": st.connect_client_id, "object": "application", "name": st.platform_name}
    st.op(account_id).emit("account.application.deauthorized", application)
    return Response.json(200, {"stripe_user_id": account_id})
