"""Intuit's OAuth 2.0 endpoints: consent page, token endpoint, revocation, discovery document.

Paths are Intuit's own (Q-DISC), all served by this one app:
    GET  /connect/oauth2                      consent page (appcenter.intuit.com)
    POST /connect/oauth2                      the page's Allow / Deny form
    POST /oauth2/v1/tokens/bearer             token endpoint (oauth.platform.intuit.com)
    POST /v2/oauth2/tokens/revoke             revocation (developer.api.intuit.com), JSON {"token": ...}
    GET  /.well-known/openid_sandbox_configuration   discovery, pointing at this host

Consent rules (RFC 6749 §4.1.2.1, which Intuit follows): an unknown client or a redirect_uri that is not
registered *exactly* gets an error page and never a redirect; every later error, and a user's denial,
redirects with `error=` and the caller's `state`. For automated tests the page also takes
`sandbox_auto_approve=<realmId>` (approve for that company at once) or `sandbox_auto_deny=1`; code can call
`QuickBooksState.approve(...)` or skip the dance entirely with `QuickBooksState.connect(...)`.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING

from sandbox.quickbooks.http import Request, Response, html_response, json_response, redirect
from sandbox.quickbooks.tokens import KNOWN_SCOPES, OAuthApp, TokenError

if TYPE_CHECKING:
    from sandbox.quickbooks.state import QuickBooksState

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


def _error_page(status: int, title: str, detail: str) -> Response:
    return html_response(
        status,
        f"<!DOCTYPE html><html><head><title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(detail)}</p></body></html>",
    )


def approval_redirect(
    state: QuickBooksState, app: OAuthApp, redirect_uri: str, realm_id: str, scopes: tuple[str, ...], oauth_state: str
) -> str:
    if redirect_uri not in app.redirect_uris or realm_id not in state.companies:
        raise ValueError("unregistered redirect_uri or unknown company")
    code = state.tokens.issue_code(app, redirect_uri, realm_id, scopes, state.controls.clock.now())
    params = {"code": code, "state": oauth_state, "realmId": realm_id}
    return redirect(redirect_uri, {k: v for k, v in params.items() if v}).headers["location"]


def _checked(state: QuickBooksState, params: dict[str, str]) -> tuple[OAuthApp | None, Response | None]:
    """The app, or the response that ends the request (an error page, or an error redirect)."""
    app = state.tokens.apps.get(params.get("client_id", ""))
    if app is None:
        return None, _error_page(400, "Invalid client", "The client_id is not a registered app.")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        return None, _error_page(400, "Invalid redirect_uri", "The redirect_uri is not registered for this app.")
    back = {"state": params["state"]} if params.get("state") else {}
    if params.get("response_type") != "code":
        return None, redirect(redirect_uri, {"error": "unsupported_response_type", **back})
    scopes = params.get("scope", "").split()
    if not scopes or any(s not in KNOWN_SCOPES for s in scopes):
        return None, redirect(redirect_uri, {"error": "invalid_scope", **back})
    return app, None


def _decide(state: QuickBooksState, app: OAuthApp, params: dict[str, str], realm_id: str | None) -> Response:
    redirect_uri, oauth_state = params["redirect_uri"], params.get("state", "")
    if realm_id is None:
        return redirect(redirect_uri, {"error": "access_denied", **({"state": oauth_state} if oauth_state else {})})
    if realm_id not in state.companies:
        return _error_page(400, "Unknown company", f"No company with realmId {realm_id}.")
    scopes = tuple(params["scope"].split())
    location = approval_redirect(state, app, redirect_uri, realm_id, scopes, oauth_state)
    return Response(302, b"", "text/plain", {"location": location})


def authorize_page(state: QuickBooksState, req: Request) -> Response:
    app, ended = _checked(state, req.query)
    if ended is not None or app is None:
        return ended or _error_page(400, "Invalid request", "")
    if "sandbox_auto_approve" in req.query:
        return _decide(state, app, req.query, req.query["sandbox_auto_approve"])
    if req.query.get("sandbox_auto_deny"):
        return _decide(state, app, req.query, None)
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(req.query.get(k, ""))}">'
        for k in ("client_id", "redirect_uri", "response_type", "scope", "state")
    )
    choices = "".join(
        f'<label><input type="radio" name="realmId" value="{c.realm_id}"{" checked" if i == 0 else ""}> '
        f"{html.escape(c.name)} ({c.realm_id})</label><br>"
        for i, c in enumerate(state.companies.values())
    )
    page = (
        f"<!DOCTYPE html><html><head><title>Connect {html.escape(app.name)}</title></head><body>"
        f"<h1>{html.escape(app.name)} wants to connect to QuickBooks</h1>"
        f'<form method="post" action="/connect/oauth2">{hidden}{choices or "<p>No companies.</p>"}'
        '<button type="submit" name="decision" value="allow">Allow</button> '
        '<button type="submit" name="decision" value="deny">Cancel</button></form></body></html>'
    )
    return html_response(200, page)


def authorize_decision(state: QuickBooksState, req: Request) -> Response:
    form = req.form()
    app, ended = _checked(state, form)
    if ended is not None or app is None:
        return ended or _error_page(400, "Invalid request", "")
    allowed = form.get("decision") == "allow"
    return _decide(state, app, form, form.get("realmId") if allowed else None)


def _client(state: QuickBooksState, req: Request, form: dict[str, str], methods: tuple[str, ...]) -> OAuthApp:
    basic = req.basic_auth()
    if basic is None and "client_secret_post" in methods and "client_id" in form:
        basic = (form["client_id"], form.get("client_secret", ""))
    elif basic is not None and "client_secret_basic" not in methods:
        basic = None
    app = state.tokens.apps.get(basic[0]) if basic else None
    if basic is None or app is None or app.client_secret != basic[1]:
        raise TokenError("invalid_client", 401)
    return app


def token(state: QuickBooksState, req: Request) -> Response:
    form = req.form()
    now = state.controls.clock.now()
    try:
        app = _client(state, req, form, state.limits.token_auth_methods)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            if not form.get("code") or not form.get("redirect_uri"):
                raise TokenError("invalid_request")
            tokens = state.tokens.exchange_code(app.client_id, form["code"], form["redirect_uri"], now)
        elif grant_type == "refresh_token":
            if not form.get("refresh_token"):
                raise TokenError("invalid_request")
            tokens = state.tokens.refresh(app.client_id, form["refresh_token"], now)
        else:
            raise TokenError("unsupported_grant_type")
    except TokenError as exc:
        headers = {"www-authenticate": 'Basic realm="Intuit"'} if exc.status == 401 else {}
        return json_response(exc.status, {"error": exc.error}, {**NO_STORE, **headers})
    return json_response(200, tokens.as_json(), NO_STORE)


def revoke(state: QuickBooksState, req: Request) -> Response:
    """Basic auth and a JSON body; an unknown token is accepted as already revoked (RFC 7009)."""
    try:
        app = _client(state, req, {}, ("client_secret_basic",))
    except TokenError as exc:
        return json_response(exc.status, {"error": exc.error})
    try:
        value = json.loads(req.body or b"{}").get("token")
    except (ValueError, AttributeError):
        value = None
    if not isinstance(value, str) or not value:
        return json_response(400, {"error": "invalid_request"})
    if not state.tokens.revoke(app.client_id, value):
        return json_response(400, {"error": "invalid_request"})
    return Response(200, b"", "text/plain")


def discovery(state: QuickBooksState, req: Request) -> Response:
    base = req.base_url
    return json_response(
        200,
        {
            "issuer": "https://oauth.platform.intuit.com/op/v1",
            "authorization_endpoint": f"{base}/connect/oauth2",
            "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
            "revocation_endpoint": f"{base}/v2/oauth2/tokens/revoke",
            "response_types_supported": ["code"],
            "scopes_supported": sorted(KNOWN_SCOPES),
            "token_endpoint_auth_methods_supported": list(state.limits.token_auth_methods),
        },
    )
