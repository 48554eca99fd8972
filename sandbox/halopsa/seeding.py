"""Bulk seeding for benchmarks and the dev run: tens of thousands of records in about a second.

Rows are built directly in their stored shape with precomputed date strings (formatting is the slow part),
bypassing the per-record write path and webhooks; the derived amounts are computed here with the same
rules as `invoices.recalc`, and a test checks the two agree. Deterministic for a given `seed`.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sandbox.halopsa.fields import format_datetime, money
from sandbox.halopsa.invoices import PAID, PARTIALLY_PAID, UNPAID
from sandbox.halopsa.store import Row

if TYPE_CHECKING:
    from sandbox.halopsa.core import HaloCore

_WORDS = "Acme Globex Initech Umbrella Hooli Stark Wayne Wonka Tyrell Cyberdyne Soylent Vandelay".split()
_ITEMS = ["Managed Services", "Backup", "Microsoft 365", "Endpoint Security", "Onsite Labour", "Firewall"]
_PRICES = [25.0, 49.5, 99.0, 12.75, 150.0, 8.2]
CONTRACT_BILLED_FRACTION = 0.7


def _clients(state: HaloCore, count: int, rng: random.Random, stamp: str) -> list[Row]:
    start = state.clients.next_id
    rows = []
    for i in range(count):
        row_id = start + i
        name = f"{_WORDS[row_id % len(_WORDS)]} {row_id:05d}"
        rows.append(
            {
                "id": row_id,
                "name": name,
                "inactive": rng.random() < 0.05,
                "accountsemailaddress": f"accounts{row_id}@example.com",
                "paymentterms": rng.choice((14, 30, 30, 45)),
                "currencyisocode": "USD",
                "datecreated": stamp,
                "alastupdate": stamp,
            }
        )
    state.clients.put_many(rows)
    return rows


def _contracts(state: HaloCore, clients: list[Row], per_client: int, started: str) -> dict[int, int]:
    """Returns each client's first contract id (what its recurring invoices bill)."""
    rows, row_id = [], state.contracts.next_id
    first: dict[int, int] = {}
    for client in clients:
        for n in range(per_client):
            rows.append(
                {
                    "id": row_id,
                    "client_id": client["id"],
                    "client_name": client["name"],
                    "ref": f"MSA-{client['id']:05d}-{n + 1}",
                    "start_date": started,
                    "end_date": None,
                    "billingperiod": 1,
                    "periodchargeamount": 500.0 + (client["id"] % 20) * 25,
                    "active": not client["inactive"],
                    "contracttype": 1,
                    "contracttype_name": "Managed Services",
                    "subtype": 0,
                    "last_modified": started,
                }
            )
            first.setdefault(client["id"], row_id)
            row_id += 1
    state.contracts.put_many(rows)
    return first


def seed_bulk(
    state: HaloCore,
    *,
    clients: int = 100,
    invoices: int = 1_000,
    lines_per_invoice: int = 3,
    contracts_per_client: int = 1,
    paid_fraction: float = 0.3,
    partial_fraction: float = 0.1,
    seed: int = 0,
) -> None:
    """Add `clients` clients (with contracts) and `invoices` invoices spread over the past year across
    them, `paid_fraction` fully and `partial_fraction` partly paid (with InvoicePayment rows)."""
    rng = random.Random(seed)  # noqa: S311 -- reproducible sample data, not secrets
    naive = state.limits.naive_datetimes
    now = state.controls.clock.now().astimezone(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC)
    # Day offsets from today (negative: past) to their text; invoices span a year, terms at most 60 days.
    days = {d: format_datetime(midnight + timedelta(days=d), naive=naive) for d in range(-366, 61)}
    stamp = state.now_text()
    client_rows = _clients(state, clients, rng, stamp)
    billed_by = _contracts(state, client_rows, contracts_per_client, days[-365])
    if not invoices or not client_rows:
        return
    # last_modified rises with the id (with jitter) over the past year, like a real ledger's history.
    first_modified = now - timedelta(days=365)
    step = 365 * 86400 / invoices
    rand = rng.random  # randrange is several times slower, and this loop runs per line
    inv_rows, pay_rows = [], []
    inv_id, line_id, pay_id = state.invoices.next_id, state.next_line_id, state.payments.next_id
    for i in range(invoices):
        client = client_rows[int(rand() * len(client_rows))]
        age = 365 - int(i * 365 / invoices)
        lines, net_sum, tax_sum = [], 0.0, 0.0
        for _ in range(lines_per_invoice):
            qty, price = float(1 + int(rand() * 10)), _PRICES[int(rand() * 6)]
            net = money(qty * price)
            tax = money(net * 0.1)
            net_sum, tax_sum = net_sum + net, tax_sum + tax
            lines.append(
                {
                    "id": line_id,
                    "ihid": inv_id,
                    "item_shortdescription": _ITEMS[int(rand() * 6)],
                    "qty_order": qty,
                    "unit_price": price,
                    "net_amount": net,
                    "tax_amount": tax,
                }
            )
            line_id += 1
        tax_total = money(tax_sum)
        total = money(net_sum + tax_total)
        roll = rand()
        paid = total if roll < paid_fraction else money(total / 2) if roll < paid_fraction + partial_fraction else 0.0
        modified = first_modified + timedelta(seconds=i * step + rand() * step)
        modified_text = format_datetime(modified, naive=naive, millis=True)
        if paid:
            pay_rows.append(
                {
                    "id": pay_id,
                    "invoice_id": inv_id,
                    "date": modified_text,
                    "amount": paid,
                    "method": 0,
                    "status": 0,
                    "client_id": client["id"],
                    "client_name": client["name"],
                    "invoice_invoicenumber": f"INV-{inv_id:06d}",
                }
            )
            state.payments_by_invoice[inv_id] = [pay_id]
            pay_id += 1
        # Most of an MSP's invoices are its agreements' recurring bills; the rest are project or ad-hoc work.
        contract_id = billed_by.get(client["id"]) if rand() < CONTRACT_BILLED_FRACTION else None
        inv_rows.append(
            {
                "id": inv_id,
                "contract_id": contract_id,
                "invoicenumber": f"INV-{inv_id:06d}",
                "client_id": client["id"],
                "client_name": client["name"],
                "posted": True,
                "voided": False,
                "paymentterms": client["paymentterms"],
                "lines": lines,
                "invoice_date": days[-age],
                "duedate": days[client["paymentterms"] - age],
                "tax_total": tax_total,
                "total": total,
                "amountpaid": paid,
                "amountdue": money(total - paid),
                "paymentstatus": PAID if paid >= total else PARTIALLY_PAID if paid else UNPAID,
                "datepaid": modified_text if paid >= total else None,
                "last_modified": modified_text,
            }
        )
        inv_id += 1
    state.invoices.put_many(inv_rows)
    state.payments.put_many(pay_rows)
    state.next_line_id = line_id
