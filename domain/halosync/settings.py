"""What the MSP decides about its HaloPSA sync. Stored on the HaloPSA connection (`settings["sync"]`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from domain.errors import Validator
from domain.money import is_currency

MIN_INTERVAL_MINUTES = 5
MAX_INTERVAL_MINUTES = 7 * 24 * 60


class InvoiceNumberField(StrEnum):
    """Which Halo field is the invoice number clients see and pay by."""

    INVOICE_NUMBER = "invoicenumber"
    ID = "id"


@dataclass(frozen=True)
class SyncSettings:
    invoice_number_field: InvoiceNumberField = InvoiceNumberField.INVOICE_NUMBER
    # Agreement subtypes whose invoices are billed under contract: eligible for contract-based autopay.
    contract_billed_subtypes: frozenset[str] = field(default_factory=frozenset)
    interval_minutes: int = 60  # scheduled incremental syncs; 0 turns the schedule off
    # A scheduled full sync this often finds invoices deleted in Halo when no webhook said so; 0: never.
    full_sync_every_days: int = 7
    currency: str = "USD"  # for clients Halo gives no currency
    # Incremental syncs re-read this far behind the last one's newest change, so a record saved in the same
    # instant as the watermark (or by a Halo server whose clock lags) is not missed.
    overlap_minutes: int = 10

    def validated(self) -> SyncSettings:
        v = Validator()
        v.check(
            self.interval_minutes == 0 or MIN_INTERVAL_MINUTES <= self.interval_minutes <= MAX_INTERVAL_MINUTES,
            "interval_minutes",
            f"must be 0 (no schedule) or {MIN_INTERVAL_MINUTES} to {MAX_INTERVAL_MINUTES}",
        )
        v.check(is_currency(self.currency.upper()), "currency", f"{self.currency!r} is not an ISO 4217 currency code")
        v.check(0 <= self.overlap_minutes <= 24 * 60, "overlap_minutes", "must be 0 to 1440")
        v.check(0 <= self.full_sync_every_days <= 365, "full_sync_every_days", "must be 0 (never) to 365")
        v.check(
            all(0 < len(s) <= 100 for s in self.contract_billed_subtypes),
            "contract_billed_subtypes",
            "each subtype must be 1 to 100 characters",
        )
        v.raise_if_any()
        return replace(self, currency=self.currency.upper())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["invoice_number_field"] = self.invoice_number_field.value
        data["contract_billed_subtypes"] = sorted(self.contract_billed_subtypes)
        return data

    @staticmethod
    def from_json(data: dict[str, Any] | None) -> SyncSettings:
        data = data or {}
        default = SyncSettings()
        return SyncSettings(
            invoice_number_field=InvoiceNumberField(data.get("invoice_number_field", default.invoice_number_field)),
            contract_billed_subtypes=frozenset(data.get("contract_billed_subtypes", ())),
            interval_minutes=int(data.get("interval_minutes", default.interval_minutes)),
            currency=str(data.get("currency", default.currency)),
            overlap_minutes=int(data.get("overlap_minutes", default.overlap_minutes)),
            full_sync_every_days=int(data.get("full_sync_every_days", default.full_sync_every_days)),
        )
