"""Stripe's error envelope, raised as an exception by handlers and rendered by the app.

`saved` follows Stripe's idempotency rule: a result is stored against an Idempotency-Key only once the
endpoint "started executing". Parameter validation failures (our 400/404 invalid_request_error) are not
saved, so a client may fix its params and retry under the same key; card declines (402) and internal
errors (500) are saved and replayed.
"""

from __future__ import annotations

from typing import Any

DOCS = "https://stripe.com/docs/error-codes/"


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        saved: bool | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.code = code
        self.param = param
        self.extra = extra
        self.headers = headers or {}
        self.saved = saved if saved is not None else type_ != "invalid_request_error"

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        err: dict[str, Any] = {}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = DOCS + self.code.replace("_", "-")
        err["message"] = self.message
        if self.param:
            err["param"] = self.param
        if request_id and self.type != "idempotency_error":
            err["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        err.update(self.extra)
        err["type"] = self.type
        return {"error": dict(sorted(err.items()))}


def invalid(message: str, *, param: str | None = None, code: str | None = None, status: int = 400) -> StripeError:
    return StripeError(status, "invalid_request_error", message, param=param, code=code)


def missing_resource(kind: str, obj_id: str, param: str | None = None) -> StripeError:
    """404 for an id that does not exist in the caller's account (Stripe-Account partitions this too)."""
    label = kind.replace("_", " ") if kind not in _LABELS else _LABELS[kind]
    return invalid(f"No such {label}: '{obj_id}'", param=param, code="resource_missing", status=404)


def required(param: str) -> StripeError:
    return invalid(f"Missing required param: {param}.", param=param, code="parameter_missing")


def unknown_param(param: str) -> StripeError:
    return invalid(f"Received unknown parameter: {param}", param=param, code="parameter_unknown")


def unexpected_state(message: str, **extra: Any) -> StripeError:
    err = invalid(message, code="payment_intent_unexpected_state")
    err.extra.update(extra)
    return err


_LABELS = {
    "payment_method": "PaymentMethod",
    "payment_intent": "payment_intent",
    "setup_intent": "setupintent",
    "balance_transaction": "balance transaction",
}
