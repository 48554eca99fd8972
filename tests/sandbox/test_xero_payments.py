"""Xero sandbox: payments, bank transactions, accounts, contacts and Idempotency-Key replay."""

from __future__ import annotations

import pytest

from sandbox.xero.testing import ConnectedSandbox, connected_sandbox


@pytest.fixture
def xero() -> ConnectedSandbox:
    return connected_sandbox()


def _pay(invoice_id, amount, code: str = "090", **extra) -> dict:
    return {"Invoice": {"InvoiceID": str(invoice_id)}, "Account": {"Code": code}, "Date": "2024-05-02",
            "Amount": amount, **extra}  # fmt: skip


def _errors(answer) -> list[str]:
    return [e["Message"] for el in answer.json()["Elements"] for e in el["ValidationErrors"]]


async def test_payments_reduce_amount_due_and_settle_the_invoice(xero: ConnectedSandbox) -> None:
    s, org = xero.state, xero.org
    inv = s.add_invoice(org, s.add_contact(org, "Ann"), "230.00")
    part = await xero.put("Payments", {"Payments": [_pay(inv.invoice_id, 30)]})
    assert part.status_code == 200, part.text
    payment = part.json()["Payments"][0]
    assert payment["Amount"] == 30 and payment["PaymentType"] == "ACCRECPAYMENT" and payment["Status"] == "AUTHORISED"
    assert payment["Invoice"]["AmountDue"] == 200 and payment["Invoice"]["AmountPaid"] == 30
    assert payment["Account"]["Code"] == "090"
    bank = next(a for a in org.accounts.values() if a.code == "970")
    rest = await xero.post("Payments", {"Invoice": {"InvoiceNumber": inv.number}, "Account": {
        "AccountID": str(bank.account_id)}, "Date": "2024-05-09", "Amount": "200.00"})  # fmt: skip
    assert rest.status_code == 200, rest.text
    paid = (await xero.get(f"Invoices/{inv.invoice_id}")).json()["Invoices"][0]
    assert paid["Status"] == "PAID" and paid["AmountDue"] == 0 and paid["AmountPaid"] == 230
    assert paid["FullyPaidOnDate"] == "/Date(1715212800000+0000)/"  # the settling payment's date
    assert len(paid["Payments"]) == 2


async def test_payment_refusals(xero: ConnectedSandbox) -> None:
    s, org = xero.state, xero.org
    ann = s.add_contact(org, "Ann")
    inv = s.add_invoice(org, ann, "100.00")
    draft = s.add_invoice(org, ann, "100.00", status="DRAFT")
    over = await xero.put("Payments", {"Payments": [_pay(inv.invoice_id, "100.01")]})
    assert over.status_code == 400 and _errors(over) == [
        "Payment amount exceeds the amount outstanding on this document"
    ]
    assert over.json()["Elements"][0]["HasValidationErrors"] is True
    assert "Authorised" in _errors(await xero.put("Payments", _pay(draft.invoice_id, 10)))[0]
    sales = await xero.put("Payments", _pay(inv.invoice_id, 10, code="200"))  # revenue, payments not enabled
    assert _errors(sales) == ["Account type is invalid for making a payment to/from"]
    assert _errors(await xero.put("Payments", _pay(inv.invoice_id, 0)))
    missing = await xero.put("Payments", _pay("8f2f1c52-8a1a-4f0e-9d7c-5f8c3c1f0000", 10))
    assert _errors(missing) == ["The document with the supplied id was not found for this endpoint."]
    assert (await xero.get(f"Invoices/{inv.invoice_id}")).json()["Invoices"][0]["AmountDue"] == 100


async def test_deleting_a_payment_restores_the_invoice(xero: ConnectedSandbox) -> None:
    s, org = xero.state, xero.org
    inv = s.add_invoice(org, s.add_contact(org, "Ann"), "50.00")
    payment = s.add_payment(org, inv, "50.00")
    assert org.invoices[inv.invoice_id].status == "PAID"
    path = f"Payments/{payment['PaymentID']}"
    assert (await xero.post(path, {"Status": "AUTHORISED"})).status_code == 400
    deleted = await xero.post(path, {"Status": "DELETED"})
    assert deleted.status_code == 200 and deleted.json()["Payments"][0]["Status"] == "DELETED"
    back = (await xero.get(f"Invoices/{inv.invoice_id}")).json()["Invoices"][0]
    assert back["Status"] == "AUTHORISED" and back["AmountDue"] == 50 and "FullyPaidOnDate" not in back
    assert (await xero.post(path, {"Status": "DELETED"})).status_code == 400
    assert (await xero.post("Payments/8f2f1c52-8a1a-4f0e-9d7c-5f8c3c1f0000", {"Status": "DELETED"})).status_code == 404
    live = await xero.get("Payments", params={"where": 'Status=="AUTHORISED"'})
    assert live.json()["Payments"] == [] and live.json()["pagination"]["itemCount"] == 0
    assert (await xero.get("Payments")).json()["pagination"]["itemCount"] == 1


async def test_bank_transactions_receive_and_spend(xero: ConnectedSandbox) -> None:
    deposit = {"Type": "RECEIVE", "Contact": {"Name": "Stripe"}, "BankAccount": {"Code": "090"},
               "Date": "2024-06-03", "Reference": "po_123", "LineItems": [
                   {"Description": "Payout po_123", "UnitAmount": "1455.90", "AccountCode": "260"}]}  # fmt: skip
    made = await xero.put("BankTransactions", {"BankTransactions": [deposit]})
    assert made.status_code == 200, made.text
    bt = made.json()["BankTransactions"][0]
    assert bt["Total"] == pytest.approx(1455.90) and bt["BankAccount"]["Code"] == "090" and bt["Status"] == "AUTHORISED"
    fee = {**deposit, "Type": "SPEND", "LineItems": [{"Description": "Stripe fees", "Quantity": 1,
                                                      "UnitAmount": "44.10", "AccountCode": "404"}]}  # fmt: skip
    assert (await xero.put("BankTransactions", fee)).status_code == 200
    not_bank = await xero.put("BankTransactions", {**deposit, "BankAccount": {"Code": "200"}})
    assert "type BANK" in _errors(not_bank)[0]
    transfer = await xero.put("BankTransactions", {**deposit, "Type": "RECEIVE-TRANSFER"})
    assert transfer.status_code == 400
    listed = (await xero.get("BankTransactions", params={"where": 'Type=="SPEND"'})).json()
    assert [b["Total"] for b in listed["BankTransactions"]] == [pytest.approx(44.10)] and "pagination" in listed
    gone = await xero.post(f"BankTransactions/{bt['BankTransactionID']}", {"Status": "DELETED"})
    assert gone.json()["BankTransactions"][0]["Status"] == "DELETED"


async def test_accounts_list_filter_and_create(xero: ConnectedSandbox) -> None:
    banks = (await xero.get("Accounts", params={"where": 'Type=="BANK"'})).json()["Accounts"]
    assert [a["Code"] for a in banks] == ["090"] and banks[0]["BankAccountType"] == "BANK"
    clearing = {"Code": "095", "Name": "Stripe Clearing", "Type": "BANK", "BankAccountNumber": "STRIPE"}
    made = await xero.put("Accounts", clearing)
    assert made.status_code == 200 and made.json()["Accounts"][0]["Class"] == "ASSET"
    assert _errors(await xero.put("Accounts", {**clearing, "Code": "096"})) == ["Please enter a unique Name."]
    assert _errors(await xero.put("Accounts", {"Code": "097", "Name": "Nope", "Type": "BANK"}))
    payable = (await xero.get("Accounts", params={"where": "EnablePaymentsToAccount==true"})).json()["Accounts"]
    assert [a["Code"] for a in payable] == ["970"]


async def test_contacts_create_update_archive(xero: ConnectedSandbox) -> None:
    made = await xero.put("Contacts", {"Contacts": [{"Name": "Acme Ltd", "EmailAddress": "ap@acme.test",
                                                      "ContactNumber": "HALO-1"}]})  # fmt: skip
    contact = made.json()["Contacts"][0]
    taken = await xero.put("Contacts", {"Name": "Acme Ltd"})
    assert _errors(taken) == [
        "The contact name Acme Ltd is already assigned to another contact. "
        "The contact name must be unique across all active contacts."
    ]
    renamed = await xero.post(f"Contacts/{contact['ContactID']}", {"Name": "Acme Group"})
    assert renamed.json()["Contacts"][0]["EmailAddress"] == "ap@acme.test"
    by_number = (await xero.get("Contacts/HALO-1")).json()["Contacts"][0]
    assert by_number["Name"] == "Acme Group"
    await xero.post("Contacts", {"ContactNumber": "HALO-1", "ContactStatus": "ARCHIVED"})
    assert (await xero.get("Contacts")).json()["Contacts"] == []
    archived = (await xero.get("Contacts", params={"includeArchived": "true"})).json()["Contacts"]
    assert [c["ContactStatus"] for c in archived] == ["ARCHIVED"]
    found = await xero.get("Contacts", params={"where": 'Name.Contains("Group")', "includeArchived": "true"})
    assert len(found.json()["Contacts"]) == 1


async def test_idempotency_key_replays_the_first_answer(xero: ConnectedSandbox) -> None:
    s, org = xero.state, xero.org
    inv = s.add_invoice(org, s.add_contact(org, "Ann"), "80.00")
    key = {"Idempotency-Key": "attempt-42"}
    first = await xero.put("Payments", {"Payments": [_pay(inv.invoice_id, 50)]}, headers=key)
    retry = await xero.put("Payments", {"Payments": [_pay(inv.invoice_id, 50)]}, headers=key)
    assert first.status_code == retry.status_code == 200 and first.content == retry.content
    assert len(org.payments) == 1 and org.invoices[inv.invoice_id].amount_due == 30
    assert retry.headers["x-minlimit-remaining"] == "58"  # a replay still counts against the limits
    other = await xero.put("Payments", {"Payments": [_pay(inv.invoice_id, 10)]}, headers=key)
    assert other.status_code == 400 and "already been used" in other.text
    refused = await xero.put(
        "Payments", {"Payments": [_pay(inv.invoice_id, 500)]}, headers={"Idempotency-Key": "k-over"}
    )
    assert (await xero.put("Payments", {"Payments": [_pay(inv.invoice_id, 500)]}, headers={"Idempotency-Key": "k-over"})).content \
        == refused.content  # fmt: skip
    assert (await xero.put("Payments", {"Payments": []}, headers={"Idempotency-Key": "x" * 129})).status_code == 400
    s.connect(xero.app, [xero.other])
    other_org = s.add_invoice(xero.other, s.add_contact(xero.other, "Zed"), "80.00")
    elsewhere = await xero.put(
        "Payments", {"Payments": [_pay(other_org.invoice_id, 50)]}, headers={**xero.headers(xero.other), **key}
    )
    assert elsewhere.status_code == 200 and elsewhere.content != first.content  # keys are per tenant
