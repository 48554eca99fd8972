"""RFC 9457 problem details: one shape for every error the REST API returns, each with a stable `code`."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    PermissionDeniedException,
    SerializationException,
    ValidationException,
)
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE

from domain.auth import Forbidden
from domain.connections import NeedsReauth, VendorRefused
from domain.errors import Conflict, DomainError, InvalidState, NotFound, ValidationFailed
from domain.payment_gateway import GatewayUnavailable
from domain.payments import PaymentRefused
from domain.surcharge import SurchargeNotAllowed
from domain.usecases.halosync import NotConnected
from domain.usecases.payments import PaymentPending
from domain.usecases.refunds import RefundPending

PROBLEM_JSON = "application/problem+json"

# code -> (title, what to do). Served at /problems/{code}, the `type` URI of each problem.
CATALOGUE: dict[str, tuple[str, str]] = {
    "validation_failed": ("Invalid request", "Fix the fields listed in `errors` and send the request again."),
    "malformed_json": ("Malformed JSON", "The body must be one JSON object."),
    "unauthenticated": ("Authentication required", "Send `Authorization: Bearer <token>` from POST /oauth/token."),
    "invalid_token": ("Invalid access token", "Get a new token from POST /oauth/token."),
    "insufficient_scope": ("Missing scope", "Use an API client that holds the scope named in `detail`."),
    "not_found": ("Not found", "Check the id; objects of other tenants are never visible."),
    "conflict": ("Conflict", "The request conflicts with the current state."),
    "duplicate_invoice_number": ("Duplicate invoice number", "Invoice numbers are unique per tenant."),
    "invalid_state": ("Not allowed in this state", "The object's state forbids this operation."),
    "idempotency_key_reused": (
        "Idempotency key reused",
        "An Idempotency-Key may be reused only with the same method, path and body.",
    ),
    "idempotency_key_in_use": ("Request in progress", "Another request with this key is running; retry later."),
    "payload_too_large": ("Payload too large", "Send a smaller body."),
    "method_not_allowed": ("Method not allowed", "See the OpenAPI document for the allowed methods."),
    "internal_error": ("Internal error", "Retry later; the error has been logged."),
    "invalid_oauth_state": ("Invalid consent state", "Start the connection again from the authorize step."),
    "vendor_refused": ("The vendor refused", "See `detail` for the vendor's own error; fix it and try again."),
    "connection_needs_reauth": ("Connect again", "The vendor no longer accepts this connection's tokens."),
    "use_client_credentials": ("Not an OAuth vendor", "Connect HaloPSA with POST /v1/connections/halopsa."),
    "provider_not_configured": ("Vendor not configured", "The operator has not registered arbridge with it."),
    "halopsa_not_connected": ("HaloPSA not connected", "Connect HaloPSA first: POST /v1/connections/halopsa."),
    "invalid_webhook_secret": (
        "Webhook not authenticated",
        "Send the secret of POST /v1/halopsa/webhook-secret as the Basic auth password or the "
        "X-Arbridge-Webhook-Secret header, to the webhook URL issued with it.",
    ),
    "idempotency_key_required": (
        "Idempotency key required",
        "Send an `Idempotency-Key` header (a new one per payment; the same one when retrying it).",
    ),
    "payment_refused": ("Payment not possible", "See `detail`: a step is missing (connect Stripe, save a method)."),
    "surcharge_not_allowed": (
        "Surcharge not allowed",
        "No surcharge may be added to this payment (`reason`: a debit or prepaid card, the payer's state, ACH, "
        "...); pay without one.",
    ),
    "payment_declined": (
        "Payment declined",
        "The failed payment is in `payment`; tell the payer `detail`, and pay with another method.",
    ),
    "payment_pending": (
        "Payment outcome unknown",
        "Stripe's answer is not known yet: retry after `Retry-After` seconds with the same Idempotency-Key.",
    ),
    "stripe_unavailable": ("Stripe unavailable", "Stripe could not be reached; retry after `Retry-After` seconds."),
    "refund_refused": ("Refund not possible", "Only a succeeded payment with something left can be refunded."),
    "refund_failed": ("Refund failed", "Stripe did not make the refund (see `detail`); it is in `refund`."),
    "refund_pending": (
        "Refund outcome unknown",
        "Stripe's answer is not known yet: retry after `Retry-After` seconds with the same Idempotency-Key.",
    ),
}

RETRY_AFTER_SECONDS = 5


class Problem(HTTPException):
    """Raise from handlers for an error response that is not a domain failure."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(status_code=status, detail=detail)
        self.code = code
        self.extra_members = extra


def problem_response(
    request: Request[Any, Any, Any], status: int, code: str, detail: str, **extra: Any
) -> Response[bytes]:
    title = CATALOGUE.get(code, (code.replace("_", " ").capitalize(), ""))[0]
    body = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        **extra,
    }
    headers = {"WWW-Authenticate": 'Bearer realm="arbridge"'} if status == 401 else None
    return Response(msgspec.json.encode(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _domain(request: Request[Any, Any, Any], exc: DomainError) -> Response[bytes]:
    if isinstance(exc, ValidationFailed):
        errors = [{"field": e.field, "message": e.message} for e in exc.errors]
        return problem_response(request, 422, exc.code, exc.message, errors=errors)
    if isinstance(exc, NotConnected):  # a step missing, not a missing object: "connect HaloPSA first"
        return problem_response(request, 409, exc.code, exc.message)
    if isinstance(exc, NotFound):
        return problem_response(request, 404, exc.code, exc.message)
    if isinstance(exc, Forbidden):
        return problem_response(request, 403, exc.code, exc.message, required_scope=exc.needed)
    if isinstance(exc, Conflict):
        return problem_response(request, 409, exc.code, exc.message)
    if isinstance(exc, SurchargeNotAllowed):
        return problem_response(request, 422, exc.code, exc.message, reason=exc.reason.value)
    if isinstance(exc, InvalidState | NeedsReauth | PaymentRefused):
        return problem_response(request, 409, exc.code, exc.message)
    if isinstance(exc, VendorRefused):
        return problem_response(
            request, 400, exc.code, exc.message, provider=exc.provider.value, vendor_error=exc.error
        )
    return problem_response(request, 400, exc.code, exc.message)


def _payment_pending(request: Request[Any, Any, Any], exc: PaymentPending) -> Response[bytes]:
    detail = "Stripe's answer is not known yet. Retry with the same Idempotency-Key: it never charges twice."
    response = problem_response(request, 503, "payment_pending", detail, payment_id=str(exc.payment.id))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _refund_pending(request: Request[Any, Any, Any], exc: RefundPending) -> Response[bytes]:
    detail = "Stripe's answer is not known yet. Retry with the same Idempotency-Key: it never refunds twice."
    response = problem_response(request, 503, "refund_pending", detail, refund_id=str(exc.refund.id))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _gateway_unavailable(request: Request[Any, Any, Any], exc: GatewayUnavailable) -> Response[bytes]:
    response = problem_response(request, 503, "stripe_unavailable", "Stripe could not be reached; try again.")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    detail = str(exc.detail)
    errors = []
    for item in exc.extra or []:
        if isinstance(item, dict):
            field = item.get("key") or item.get("source") or "body"
            errors.append({"field": str(field), "message": str(item.get("message", ""))})
    return problem_response(request, 400, "validation_failed", detail, errors=errors)


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    if isinstance(exc, Problem):
        return problem_response(request, exc.status_code, exc.code, str(exc.detail), **exc.extra_members)
    if isinstance(exc.__cause__, SerializationException):  # the body did not parse as JSON
        return problem_response(request, 400, "malformed_json", f"The request body is not valid JSON: {exc.detail}.")
    if isinstance(exc, NotFoundException):
        return problem_response(request, 404, "not_found", "No such resource.")
    if isinstance(exc, MethodNotAllowedException):
        return problem_response(request, 405, "method_not_allowed", str(exc.detail))
    if isinstance(exc, PermissionDeniedException):
        return problem_response(request, 403, "insufficient_scope", str(exc.detail))
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        return problem_response(request, 413, "payload_too_large", "The request body is too large.")
    code = "unauthenticated" if exc.status_code == 401 else "http_error"
    return problem_response(request, exc.status_code, code, str(exc.detail))


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    request.logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(request, 500, "internal_error", "Something went wrong on our side.")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: _domain,
    PaymentPending: _payment_pending,
    RefundPending: _refund_pending,
    GatewayUnavailable: _gateway_unavailable,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _internal,
}
