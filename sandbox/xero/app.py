"""The Xero sandbox as one ASGI app serving all three Xero hosts' paths:

  login.xero.com     GET/POST /identity/connect/authorize     consent page (consent.py)
  identity.xero.com  POST /connect/token, /connect/revocation  (identity_routes.py)
  api.xero.com       GET /connections, DELETE /connections/{id} (identity_routes.py)
                     /api.xro/2.0/{Invoices,Contacts,Payments,BankTransactions,Accounts}[/{id}] (api.py)

Point the three base URLs of a Xero client at this app. `wrap_asgi` puts fault injection and the request log
in front of every route.
"""

from __future__ import annotations

from sandbox.common import ASGIApp, Receive, Scope, Send, wrap_asgi

from .api import PREFIX, accounting
from .consent import authorize_get, authorize_post
from .http import Request, Response, read_request, send_response, text_response
from .identity_routes import connections, delete_connection, revocation, token
from .listing import NOT_FOUND
from .state import XeroState


async def route(state: XeroState, req: Request) -> Response:
    path, method = req.path.lower().rstrip("/"), req.method
    if path == "/identity/connect/authorize" and method in ("GET", "POST"):
        return authorize_get(state, req) if method == "GET" else authorize_post(state, req)
    if path in ("/connect/token", "/connect/revocation"):
        if method != "POST":
            return text_response(405, "Method not allowed")
        return token(state, req) if path == "/connect/token" else revocation(state, req)
    if path == "/connections" and method == "GET":
        return connections(state, req)
    if path.startswith("/connections/") and method == "DELETE":
        return delete_connection(state, req, req.path.rstrip("/").rsplit("/", 1)[-1])
    if path.startswith(PREFIX.rstrip("/")) and method in ("GET", "PUT", "POST"):
        return await accounting(state, req)
    return text_response(404, NOT_FOUND)


def create_app(state: XeroState) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = await read_request(scope, receive)
        await send_response(send, await route(state, request))

    return wrap_asgi(app, state.controls)
