"""What an MSP does in Halo's own UI, as methods on the state: the changes a sync must notice.

Each action goes through the same write path as the REST API, so it bumps `last_modified`, re-derives
amounts and queues the configured webhooks exactly as an API write would. Results are copies: a test
holding one cannot change the sandbox behind its back.
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

from sandbox.halopsa import invoices, writes
from sandbox.halopsa.core import HaloCore
from sandbox.halopsa.store import Row
from sandbox.halopsa.webhooks import WebhookConfig


def _body(fields: dict[str, Any]) -> dict[str, Any]:
    """Accept Python dates for convenience; the write path takes what JSON would carry."""
    return {k: v.isoformat() if isinstance(v, datetime | date) else v for k, v in fields.items()}


class HaloState(HaloCore):
    """One sandboxed Halo tenant. Construct with `HaloState(tenant=..., limits=HaloLimits(...))`."""

    # -- reading (copies) -----------------------------------------------------------------------------

    def invoice(self, invoice_id: int) -> Row | None:
        row = self.invoices.get(invoice_id)
        return copy.deepcopy(row) if row is not None else None

    def client(self, client_id: int) -> Row | None:
        row = self.clients.get(client_id)
        return dict(row) if row is not None else None

    def contract(self, contract_id: int) -> Row | None:
        row = self.contracts.get(contract_id)
        return dict(row) if row is not None else None

    def payments_of(self, invoice_id: int) -> list[Row]:
        return [dict(self.payments.rows[p]) for p in self.payments_by_invoice.get(invoice_id, ())]

    # -- customers and contracts ----------------------------------------------------------------------

    def create_client(self, name: str, **fields: Any) -> Row:
        return dict(writes.upsert_client(self, _body({"name": name, **fields})))

    def edit_client(self, client_id: int, **fields: Any) -> Row:
        return dict(writes.upsert_client(self, _body({"id": client_id, **fields})))

    def deactivate_client(self, client_id: int) -> Row:
        return self.edit_client(client_id, inactive=True)

    def create_contract(self, client_id: int, **fields: Any) -> Row:
        return dict(writes.upsert_contract(self, _body({"client_id": client_id, **fields})))

    def edit_contract(self, contract_id: int, **fields: Any) -> Row:
        return dict(writes.upsert_contract(self, _body({"id": contract_id, **fields})))

    # -- invoices and payments ------------------------------------------------------------------------

    def create_invoice(self, client_id: int, lines: list[dict[str, Any]] | None = None, **fields: Any) -> Row:
        """`lines`: dicts of InvoiceDetail fields, e.g. {"item_shortdescription", "qty_order", "unit_price",
        "tax_amount"}; `net_amount` defaults to qty x price."""
        body = _body({"client_id": client_id, **fields, "lines": lines or []})
        return copy.deepcopy(invoices.upsert_invoice(self, body))

    def edit_invoice(self, invoice_id: int, **fields: Any) -> Row:
        """Amount edits go through `lines` (they replace the invoice's lines); dates through `duedate` etc."""
        return copy.deepcopy(invoices.upsert_invoice(self, _body({"id": invoice_id, **fields})))

    def post_invoice(self, invoice_id: int) -> Row:
        return self.edit_invoice(invoice_id, posted=True)

    def void_invoice(self, invoice_id: int) -> Row:
        return self.edit_invoice(invoice_id, voided=True)

    def delete_invoice(self, invoice_id: int) -> None:
        invoices.delete_invoice(self, invoice_id)

    def record_payment(self, invoice_id: int, amount: float, **fields: Any) -> Row:
        body = _body({"invoice_id": invoice_id, "amount": amount, **fields})
        return dict(invoices.upsert_payment(self, body))

    def delete_payment(self, payment_id: int) -> None:
        invoices.delete_payment(self, payment_id)

    # -- webhooks and seeding -------------------------------------------------------------------------

    def add_webhook(
        self,
        url: str,
        events: set[str] | frozenset[str],
        *,
        basic: tuple[str, str] | None = None,
        header: tuple[str, str] | None = None,
    ) -> WebhookConfig:
        """Basic auth (`basic=(user, password)`) or a fixed header (`header=(name, value)`), as Halo offers."""
        config = WebhookConfig(url=url, events=frozenset(events))
        if basic is not None:
            config.basic_username, config.basic_password = basic
        if header is not None:
            config.header_name, config.header_value = header
        return self.webhooks.add(config)

    def seed(self, **options: Any) -> None:
        """Bulk-load clients, contracts, invoices (with lines) and payments; see `seeding.seed_bulk`."""
        from sandbox.halopsa.seeding import seed_bulk

        seed_bulk(self, **options)
