"""An httpx transport that delivers each request to the in-process sandbox registered for its host.

Tests give the app under test this transport for its vendor calls; each test registers the sandboxes it
needs under hosts of its own (`halo-1234.sandbox.test`), so tests never see each other's vendor state.
"""

from __future__ import annotations

import httpx

from sandbox.common import ASGIApp


class SandboxRouter(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self._apps: dict[str, httpx.ASGITransport] = {}

    def register(self, host: str, app: ASGIApp) -> str:
        """Serve `app` at http://<host>; returns that base URL."""
        self._apps[host] = httpx.ASGITransport(app=app)
        return f"http://{host}"

    def unregister(self, host: str) -> None:
        self._apps.pop(host, None)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self._apps.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(f"no sandbox serves {request.url.host}", request=request)
        try:
            return await transport.handle_async_request(request)
        except ConnectionResetError as exc:  # a sandbox fault dropped the connection, as a server would
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
