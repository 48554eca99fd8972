"""Expected failures of use cases. The APIs translate each `code` into a problem (REST) or a typed error (GraphQL)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    """Base for failures a caller can act on. `code` is stable: clients branch on it."""

    code = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    code = "not_found"

    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"No {kind} with id {ident}.")
        self.kind = kind
        self.ident = ident


class Conflict(DomainError):
    code = "conflict"


class DuplicateInvoiceNumber(Conflict):
    code = "duplicate_invoice_number"

    def __init__(self, number: str) -> None:
        super().__init__(f"An invoice numbered {number!r} already exists.")
        self.number = number


class InvalidState(DomainError):
    """The object exists but is in a state that forbids the operation (e.g. voiding a paid invoice)."""

    code = "invalid_state"


@dataclass
class _Errors:
    items: list[FieldError] = field(default_factory=list)


class ValidationFailed(DomainError):
    code = "validation_failed"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors) or "invalid input")
        self.errors = errors


class Validator:
    """Collects field errors so a caller learns every problem with its input at once."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, field_name: str, message: str) -> None:
        self.errors.append(FieldError(field_name, message))

    def check(self, ok: bool, field_name: str, message: str) -> bool:
        if not ok:
            self.fail(field_name, message)
        return ok

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)
