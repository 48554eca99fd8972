"""Liveness, readiness and the problem-type catalogue (all public)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from sqlalchemy import text

from api.rest.problems import CATALOGUE, problem_response
from api.rest.security import services_of


@get("/health", security=[{}], tags=["operations"], summary="Liveness")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/ready", security=[{}], tags=["operations"], summary="Readiness: PostgreSQL and Redis reachable")
async def ready(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    services = services_of(request.app.state)
    checks: dict[str, str] = {}
    try:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["postgres"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with its reason
        checks["postgres"] = f"unreachable: {type(exc).__name__}"
    try:
        await services.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"unreachable: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return Response({"status": "ready" if ok else "not_ready", **checks}, status_code=200 if ok else 503)


@get("/problems/{code:str}", security=[{}], tags=["operations"], summary="What a problem `type` means")
async def problem_type(request: Request[Any, Any, Any], code: str) -> Response[Any]:
    if code not in CATALOGUE:
        return problem_response(request, 404, "not_found", f"No problem type {code!r}.")
    title, advice = CATALOGUE[code]
    return Response({"code": code, "title": title, "advice": advice})
