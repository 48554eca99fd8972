"""The ASGI app: one host serving Intuit's OAuth endpoints and the Accounting API.

Intuit spreads these over several hosts (appcenter.intuit.com, oauth.platform.intuit.com,
developer.api.intuit.com, quickbooks.api.intuit.com); their paths never collide, so one sandbox host serves
them all and the discovery document points every endpoint back at it.
"""

from __future__ import annotations

from sandbox.common import ASGIApp, Receive, Scope, Send, wrap_asgi
from sandbox.quickbooks import api, oauth
from sandbox.quickbooks.http import Request, Response
from sandbox.quickbooks.state import QuickBooksState

DISCOVERY = ("/.well-known/openid_sandbox_configuration", "/.well-known/openid_configuration")


async def route(state: QuickBooksState, req: Request) -> Response:
    path, method = req.path, req.method
    if path.startswith("/v3/"):
        return await api.handle(state, req)
    if path == "/connect/oauth2" and method in {"GET", "POST"}:
        return oauth.authorize_page(state, req) if method == "GET" else oauth.authorize_decision(state, req)
    if path == "/oauth2/v1/tokens/bearer" and method == "POST":
        return oauth.token(state, req)
    if path == "/v2/oauth2/tokens/revoke" and method == "POST":
        return oauth.revoke(state, req)
    if path.rstrip("/") in DISCOVERY and method == "GET":
        return oauth.discovery(state, req)
    return Response(404, b"Not Found", "text/plain")


def create_app(state: QuickBooksState) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # nothing to start or stop: acknowledge both
            while True:
                kind = (await receive())["type"]
                await send({"type": kind + ".complete"})
                if kind == "lifespan.shutdown":
                    return
        if scope["type"] != "http":
            return
        response = await route(state, await Request.read(scope, receive))
        await response.send(send)

    return wrap_asgi(app, state.controls)
