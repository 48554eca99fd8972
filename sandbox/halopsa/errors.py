"""The one exception the sandbox's handlers raise; the app turns it into the vendor's response.

No error body schema is documented for Halo's resource server [U providers.md §1 "Rate limits / errors"].
We answer 400/404/409 with a short plain-text message (what an ASP.NET controller returning
`BadRequest("...")` sends), and 401/403 with an empty body plus `WWW-Authenticate`, as ASP.NET's JwtBearer
handler does. Adapters should branch on the status code only.
"""

from __future__ import annotations

from typing import Any


class HaloError(Exception):
    def __init__(self, status: int, message: str = "", *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class OAuthError(Exception):
    """A token-endpoint failure: RFC 6749 §5.2 JSON (`error`, `error_description`)."""

    def __init__(self, status: int, error: str, description: str = "") -> None:
        super().__init__(error)
        self.status = status
        self.body: dict[str, Any] = {"error": error}
        if description:
            self.body["error_description"] = description
