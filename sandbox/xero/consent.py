"""The authorize endpoint (login.xero.com/identity/connect/authorize) and its consent page.

GET validates the request and shows an HTML page listing the organisations the signed-in user can connect
(checkboxes named `tenant`) with Allow/Cancel buttons; the form POSTs back here with a single-use
`consent_id`. Allow creates (or refreshes) one connection per chosen organisation and redirects 302 to the
redirect_uri with `code`, `scope`, `state` and `session_state`; Cancel redirects with `error=access_denied`.
An unknown client or an unregistered redirect_uri never redirects (an error page, 400), so a forged
redirect_uri cannot receive a code. Tests skip the page with `XeroState.auto_consent(...)`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from .context import as_uuid
from .http import HTML, Request, Response, redirect, text_response
from .oauth import IDENTITY_SCOPES, Grant, OAuthApp, code_for
from .tokens import CHALLENGE

if TYPE_CHECKING:
    from .state import XeroState


@dataclass(frozen=True)
class PendingConsent:
    app: OAuthApp
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    challenge: str | None


@dataclass(frozen=True)
class AutoConsent:
    """A standing answer to the consent page: allow these tenants (None: all of them), or deny."""

    allow: bool = True
    tenant_ids: tuple[UUID, ...] | None = None


def _error_page(message: str) -> Response:
    page = f"<!DOCTYPE html><html><head><title>Xero | Error</title></head><body><h1>Error</h1><p>{html.escape(message)}</p></body></html>"  # noqa: E501
    return text_response(400, page, HTML)


def authorize_get(state: XeroState, req: Request) -> Response:
    app = state.identity.apps.get(req.param("client_id") or "")
    if app is None:
        return _error_page("unauthorized_client: unknown client_id")
    redirect_uri = req.param("redirect_uri") or ""
    if redirect_uri not in app.redirect_uris:
        return _error_page("invalid_request: redirect_uri is not registered for this app")
    back = {"state": s} if (s := req.param("state")) else {}
    if req.param("response_type") != "code":
        return redirect(redirect_uri, {"error": "unsupported_response_type", **back})
    scopes = tuple(dict.fromkeys((req.param("scope") or "").split()))
    if not scopes or any(s not in app.scopes | IDENTITY_SCOPES for s in scopes):
        return redirect(redirect_uri, {"error": "invalid_scope", **back})
    challenge, method = req.param("code_challenge"), req.param("code_challenge_method")
    if (challenge is None and app.public) or (
        challenge is not None and (method != "S256" or not CHALLENGE.match(challenge))
    ):  # PKCE apps must send an S256 challenge; Xero does not accept `plain`
        return redirect(redirect_uri, {"error": "invalid_request", **back})
    pending = PendingConsent(app, redirect_uri, scopes, req.param("state"), challenge)
    auto = state.identity.auto
    if auto is not None:
        chosen = auto.tenant_ids if auto.tenant_ids is not None else tuple(state.orgs)
        return decide(state, pending, allow=auto.allow, tenant_ids=chosen)
    consent_id = state.token(16)
    state.identity.pending[consent_id] = pending
    return text_response(200, _page(state, pending, consent_id, None), HTML)


def authorize_post(state: XeroState, req: Request) -> Response:
    form = req.form()
    consent_id = (form.get("consent_id") or [""])[0]
    pending = state.identity.pending.pop(consent_id, None)
    if pending is None:
        return _error_page("This consent request has expired or was already answered")
    if (form.get("decision") or [""])[0] != "allow":
        return decide(state, pending, allow=False, tenant_ids=())
    chosen = tuple(t for t in (as_uuid(v) for v in form.get("tenant", [])) if t is not None)
    if any(t not in state.orgs for t in chosen) or (not chosen and _wants_tenants(pending)):
        state.identity.pending[consent_id] = pending  # the user picks again
        page = _page(state, pending, consent_id, "Select at least one organisation to connect")
        return text_response(400, page, HTML)
    return decide(state, pending, allow=True, tenant_ids=chosen)


def _wants_tenants(pending: PendingConsent) -> bool:
    return any(s not in IDENTITY_SCOPES for s in pending.scopes)


def decide(state: XeroState, pending: PendingConsent, *, allow: bool, tenant_ids: tuple[UUID, ...]) -> Response:
    back = {"state": pending.state} if pending.state else {}
    if not allow:
        return redirect(pending.redirect_uri, {"error": "access_denied", **back})
    grant = Grant(pending.app.client_id, state.user.user_id, pending.scopes, state.new_id())
    if _wants_tenants(pending):
        for tenant_id in tenant_ids:
            state.identity.connect(grant, tenant_id, state.now(), state.new_id())
    code = code_for(state, pending.app, pending.redirect_uri, pending.scopes, pending.challenge, grant.auth_event_id)
    params = {"code": code, "scope": " ".join(pending.scopes), **back, "session_state": state.token(16)}
    return redirect(pending.redirect_uri, params)


def _page(state: XeroState, pending: PendingConsent, consent_id: str, problem: str | None) -> str:
    e = html.escape
    orgs = "".join(
        f'<li><label><input type="checkbox" name="tenant" value="{org.tenant_id}"> {e(org.name)}</label></li>'
        for org in state.orgs.values()
    )
    scopes = "".join(f"<li>{e(s)}</li>" for s in pending.scopes)
    notice = f'<p class="error">{e(problem)}</p>' if problem else ""
    return (
        f"<!DOCTYPE html><html><head><title>Xero | Authorise {e(pending.app.name)}</title></head><body>"
        f"<h1>{e(pending.app.name)} wants to access your Xero data</h1><p>Signed in as {e(state.user.email)}</p>"
        f"{notice}<p>Permissions requested:</p><ul>{scopes}</ul>"
        f'<form method="post" action="/identity/connect/authorize">'
        f'<input type="hidden" name="consent_id" value="{e(consent_id)}">'
        f"<fieldset><legend>Organisations</legend><ul>{orgs}</ul></fieldset>"
        '<button type="submit" name="decision" value="allow">Allow access</button>'
        '<button type="submit" name="decision" value="deny">Cancel</button>'
        "</form></body></html>"
    )
