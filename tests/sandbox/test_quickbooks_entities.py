"""QuickBooks sandbox: entity writes, SyncToken, business rules for invoices, payments and deposits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.quickbooks.testing import Connected, connected


@pytest.fixture
def q() -> Connected:
    return connected()


def fault(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error = response.json()["Fault"]["Error"][0]
    assert set(error) == {"Message", "Detail", "code", "element"}
    return error


def pay_line(invoice_id: str, amount: float) -> dict[str, Any]:
    return {"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}


async def post(http: httpx.AsyncClient, q: Connected, entity: str, body: dict, **params: Any) -> httpx.Response:
    return await http.post(q.path(entity, **params), json=body)


async def test_create_read_and_envelope(q: Connected) -> None:
    async with q.client() as http:
        created = await post(http, q, "customer", {"DisplayName": "Acme Ltd", "PrimaryEmailAddr": {"Address": "a@x"}})
        customer = created.json()["Customer"]
        read = await http.get(q.path(f"customer/{customer['Id']}"))
    assert created.status_code == 200 and set(created.json()) == {"Customer", "time"}
    assert customer["SyncToken"] == "0" and customer["Active"] is True and customer["Balance"] == 0
    assert customer["MetaData"]["CreateTime"] == customer["MetaData"]["LastUpdatedTime"]
    assert read.json()["Customer"] == customer
    assert created.headers["intuit_tid"]


async def test_duplicate_display_name_is_6240(q: Connected) -> None:
    q.company.add_customer("Acme Ltd")
    async with q.client() as http:
        error = fault(await post(http, q, "customer", {"DisplayName": "acme ltd"}))
    assert error["code"] == "6240"


async def test_unknown_property_is_refused(q: Connected) -> None:
    async with q.client() as http:
        error = fault(await post(http, q, "customer", {"DisplayName": "X", "Nickname": "x"}))
        broken = await http.post(q.path("customer"), content=b"{not json")
    assert error["code"] == "2010" and "Nickname" in error["Detail"]
    assert fault(broken)["code"] == "2010"


async def test_sparse_update_bumps_sync_token_and_time_and_keeps_other_fields(q: Connected) -> None:
    customer = q.company.add_customer("Acme", "ap@acme.test", CompanyName="Acme Inc")
    q.state.controls.clock.advance(5)
    async with q.client() as http:
        body = {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "CompanyName": "Acme Holdings"}
        updated = (await post(http, q, "customer", body)).json()["Customer"]
    assert updated["SyncToken"] == "1" and updated["CompanyName"] == "Acme Holdings"
    assert updated["PrimaryEmailAddr"] == {"Address": "ap@acme.test"}
    assert updated["MetaData"]["LastUpdatedTime"] > updated["MetaData"]["CreateTime"]


async def test_full_update_clears_fields_left_out(q: Connected) -> None:
    customer = q.company.add_customer("Acme", "ap@acme.test")
    async with q.client() as http:
        updated = await post(http, q, "customer", {"Id": customer["Id"], "SyncToken": "0", "DisplayName": "Acme"})
    assert "PrimaryEmailAddr" not in updated.json()["Customer"]


async def test_stale_sync_token_is_5010_and_changes_nothing(q: Connected) -> None:
    customer = q.company.add_customer("Acme")
    async with q.client() as http:
        first = {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "one"}
        assert (await post(http, q, "customer", first)).status_code == 200
        error = fault(await post(http, q, "customer", {**first, "Notes": "two"}))
        missing = fault(await post(http, q, "customer", {"Id": customer["Id"], "sparse": True, "Notes": "x"}))
    assert error["code"] == "5010" and error["Message"] == "Stale Object Error"
    assert missing["code"] == "2020"
    assert q.company.records["Customer"][customer["Id"]]["Notes"] == "one"


async def test_invoice_totals_subtotal_line_terms_and_auto_number(q: Connected) -> None:
    net30 = next(t for t in q.company.records["Term"].values() if t["Name"] == "Net 30")
    customer = q.company.add_customer("Acme", SalesTermRef={"value": net30["Id"]})
    q.company.settings.custom_txn_numbers = False
    body = {
        "CustomerRef": {"value": customer["Id"]},
        "TxnDate": "2026-01-10",
        "Line": [
            {"Amount": 100.10, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}},
            {"DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"Qty": 2, "UnitPrice": 0.1}},
            {"Amount": 10, "DetailType": "DiscountLineDetail", "DiscountLineDetail": {"PercentBased": False}},
        ],
    }
    async with q.client() as http:
        invoice = (await post(http, q, "invoice", body)).json()["Invoice"]
        second = (await post(http, q, "invoice", body)).json()["Invoice"]
    assert invoice["TotalAmt"] == 90.3 and invoice["Balance"] == 90.3
    assert invoice["Line"][-1] == {"Amount": 100.3, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    assert invoice["DueDate"] == "2026-02-09" and invoice["SalesTermRef"]["value"] == net30["Id"]
    assert int(second["DocNumber"]) == int(invoice["DocNumber"]) + 1
    assert q.company.records["Customer"][customer["Id"]]["Balance"] == 180.6


async def test_invoice_needs_a_live_customer_and_lines(q: Connected) -> None:
    customer = q.company.add_customer("Acme")
    async with q.client() as http:
        no_lines = fault(await post(http, q, "invoice", {"CustomerRef": {"value": customer["Id"]}}))
        ghost = fault(await post(http, q, "invoice", {"CustomerRef": {"value": "999"}, "Line": []}))
    assert no_lines["code"] == "2020" and "Line" in no_lines["Detail"]
    assert ghost["code"] == "2500"


async def test_duplicate_doc_number_is_6140_only_when_the_company_warns(q: Connected) -> None:
    customer = q.company.add_customer("Acme")
    q.company.add_invoice(customer["Id"], 10, doc_number="INV-7")
    line = [{"Amount": 5, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]
    body = {"CustomerRef": {"value": customer["Id"]}, "DocNumber": "INV-7", "Line": line}
    async with q.client() as http:
        error = fault(await post(http, q, "invoice", body))
        q.company.settings.warn_duplicate_doc_number = False
        allowed = await post(http, q, "invoice", body)
        too_long = fault(await post(http, q, "invoice", {**body, "DocNumber": "X" * 22}))
    assert error["code"] == "6140" and "INV-7" in error["Detail"]
    assert allowed.status_code == 200
    assert too_long["element"] == "DocNumber"


async def test_payment_reduces_invoice_balance_and_touches_the_invoice(q: Connected) -> None:
    customer = q.company.add_customer("Acme")
    invoice = q.company.add_invoice(customer["Id"], 250)
    body = {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 300, "Line": [pay_line(invoice["Id"], 200)]}
    async with q.client() as http:
        payment = (await post(http, q, "payment", body)).json()["Payment"]
        after = (await http.get(q.path(f"invoice/{invoice['Id']}"))).json()["Invoice"]
    assert payment["UnappliedAmt"] == 100
    assert payment["DepositToAccountRef"]["name"] == "Undeposited Funds"
    assert after["Balance"] == 50 and after["SyncToken"] == "1"
    assert after["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "Payment"}]
    assert q.company.records["Customer"][customer["Id"]]["Balance"] == -50  # 50 open less 100 credit


async def test_payment_rules(q: Connected) -> None:
    acme, other = q.company.add_customer("Acme"), q.company.add_customer("Other")
    invoice = q.company.add_invoice(acme["Id"], 100)
    async with q.client() as http:
        no_total = fault(await post(http, q, "payment", {"CustomerRef": {"value": acme["Id"]}}))
        overpay = fault(await post(http, q, "payment", {"CustomerRef": {"value": acme["Id"]}, "TotalAmt": 150,
                                                       "Line": [pay_line(invoice["Id"], 150)]}))  # fmt: skip
        over_total = fault(await post(http, q, "payment", {"CustomerRef": {"value": acme["Id"]}, "TotalAmt": 50,
                                                          "Line": [pay_line(invoice["Id"], 60)]}))  # fmt: skip
        wrong_customer = fault(await post(http, q, "payment", {"CustomerRef": {"value": other["Id"]},
                                                              "TotalAmt": 10, "Line": [pay_line(invoice["Id"], 10)]}))  # fmt: skip
    assert no_total["code"] == "6000" and "transaction amount" in no_total["Detail"]
    assert overpay["code"] == over_total["code"] == wrong_customer["code"] == "6000"
    assert q.company.records["Invoice"][invoice["Id"]]["Balance"] == 100


async def test_updating_payment_lines_reapplies(q: Connected) -> None:
    customer = q.company.add_customer("Acme")
    first, second = q.company.add_invoice(customer["Id"], 100), q.company.add_invoice(customer["Id"], 100)
    payment = q.company.add_payment(customer["Id"], {first["Id"]: 100})
    body = {"Id": payment["Id"], "SyncToken": payment["SyncToken"], "sparse": True,
            "Line": [pay_line(second["Id"], 100)]}  # fmt: skip
    async with q.client() as http:
        assert (await post(http, q, "payment", body)).status_code == 200
    assert q.company.records["Invoice"][first["Id"]]["Balance"] == 100
    assert q.company.records["Invoice"][second["Id"]]["Balance"] == 0


async def test_deleting_or_voiding_a_payment_restores_the_balance(q: Connected) -> None:
    customer = q.company.add_customer("Acme")
    invoice = q.company.add_invoice(customer["Id"], 100)
    one = q.company.add_payment(customer["Id"], {invoice["Id"]: 40})
    two = q.company.add_payment(customer["Id"], {invoice["Id"]: 60})
    assert q.company.records["Invoice"][invoice["Id"]]["Balance"] == 0
    async with q.client() as http:
        deleted = await post(http, q, "payment", {"Id": one["Id"], "SyncToken": "0"}, operation="delete")
        voided = await post(http, q, "payment", {"Id": two["Id"], "SyncToken": "0", "sparse": True},
                            operation="update", include="void")  # fmt: skip
        gone = await http.get(q.path(f"payment/{one['Id']}"))
    assert deleted.json()["Payment"] == {"domain": "QBO", "status": "Deleted", "Id": one["Id"]}
    assert voided.json()["Payment"]["TotalAmt"] == 0 and voided.json()["Payment"]["PrivateNote"] == "Voided"
    assert q.company.records["Invoice"][invoice["Id"]]["Balance"] == 100
    error = fault(gone)
    assert error["code"] == "610" and "deleted" in error["Detail"]


async def test_invoice_void_and_delete(q: Connected) -> None:
    customer = q.company.add_customer("Acme")
    paid, plain, doomed = (q.company.add_invoice(customer["Id"], 80) for _ in range(3))
    q.company.add_payment(customer["Id"], {paid["Id"]: 80})
    async with q.client() as http:
        voided = await post(http, q, "invoice", {"Id": plain["Id"], "SyncToken": "0"}, operation="void")
        refused = fault(await post(http, q, "invoice", {"Id": paid["Id"], "SyncToken": "1"}, operation="delete"))
        stale = fault(await post(http, q, "invoice", {"Id": doomed["Id"], "SyncToken": "7"}, operation="delete"))
        ok = await post(http, q, "invoice", {"Id": doomed["Id"], "SyncToken": "0"}, operation="delete")
        no_delete = fault(await post(http, q, "customer", {"Id": customer["Id"], "SyncToken": "0"}, operation="delete"))
    invoice = voided.json()["Invoice"]
    assert invoice["TotalAmt"] == invoice["Balance"] == 0 and invoice["SyncToken"] == "1"
    assert refused["code"] == "6000" and stale["code"] == "5010" and ok.status_code == 200
    assert no_delete["code"] == "500"
    assert q.company.records["Customer"][customer["Id"]]["Balance"] == 0


def _deposit_setup(q: Connected) -> tuple[dict, dict, dict]:
    customer = q.company.add_customer("Acme")
    one, two = q.company.add_invoice(customer["Id"], 1000), q.company.add_invoice(customer["Id"], 500)
    return (customer, q.company.add_payment(customer["Id"], {one["Id"]: 1000}),
            q.company.add_payment(customer["Id"], {two["Id"]: 500}))  # fmt: skip


def _linked(payment: dict, amount: float) -> dict:
    return {"Amount": amount, "LinkedTxn": [{"TxnId": payment["Id"], "TxnType": "Payment", "TxnLineId": "0"}]}


async def test_deposit_of_payments_less_fees(q: Connected) -> None:
    _, one, two = _deposit_setup(q)
    fee = {"Amount": -44.10, "DetailType": "DepositLineDetail", "Description": "Stripe fees po_123",
           "DepositLineDetail": {"AccountRef": {"value": q.company.account_ids["merchant_fees"]}}}  # fmt: skip
    body = {"DepositToAccountRef": {"value": q.company.account_ids["checking"]}, "PrivateNote": "po_123",
            "Line": [_linked(one, 1000), _linked(two, 500), fee], "TotalAmt": 1455.90}  # fmt: skip
    async with q.client() as http:
        deposit = (await post(http, q, "deposit", body)).json()["Deposit"]
        again = fault(await post(http, q, "deposit", body))
        locked = fault(await post(http, q, "payment", {"Id": one["Id"], "SyncToken": "0", "sparse": True,
                                                      "PaymentRefNum": "x"}))  # fmt: skip
        locked_delete = fault(await post(http, q, "payment", {"Id": one["Id"], "SyncToken": "0"}, operation="delete"))
        await post(http, q, "deposit", {"Id": deposit["Id"], "SyncToken": "0"}, operation="delete")
        freed = await post(http, q, "payment", {"Id": one["Id"], "SyncToken": "0"}, operation="delete")
    assert deposit["TotalAmt"] == 1455.9 and deposit["DepositToAccountRef"]["name"] == "Checking"
    assert again["code"] == "6000" and "already been deposited" in again["Detail"]
    assert locked["code"] == locked_delete["code"] == "6540"
    assert freed.status_code == 200


async def test_deposit_validation(q: Connected) -> None:
    _, one, _ = _deposit_setup(q)
    checking = {"value": q.company.account_ids["checking"]}
    wrong_total = {"DepositToAccountRef": checking, "Line": [_linked(one, 1000)], "TotalAmt": 999}
    detail_type_bug = {"DepositToAccountRef": checking,
                       "Line": [{**_linked(one, 1000), "DetailType": "DepositLineDetail"}]}  # fmt: skip
    partial = {"DepositToAccountRef": checking, "Line": [_linked(one, 10)]}
    not_a_bank = {"DepositToAccountRef": {"value": q.company.account_ids["sales"]}, "Line": [_linked(one, 1000)]}
    no_account = {"DepositToAccountRef": checking, "Line": [{"Amount": 5, "DetailType": "DepositLineDetail"}]}
    async with q.client() as http:
        errors = [fault(await post(http, q, "deposit", b)) for b in
                  (wrong_total, detail_type_bug, partial, not_a_bank, no_account)]  # fmt: skip
    assert [e["code"] for e in errors] == ["6000", "2020", "6000", "6000", "2020"]
    assert "Line.DepositLineDetail.AccountRef" in errors[1]["Detail"]
    assert "Select a bank account" in errors[3]["Detail"]


async def test_deposit_with_cash_back(q: Connected) -> None:
    _, one, _ = _deposit_setup(q)
    body = {"DepositToAccountRef": {"value": q.company.account_ids["checking"]}, "Line": [_linked(one, 1000)],
            "CashBack": {"AccountRef": {"value": q.company.account_ids["merchant_fees"]}, "Amount": 29.3,
                         "Memo": "fees"}}  # fmt: skip
    async with q.client() as http:
        deposit = (await post(http, q, "deposit", body)).json()["Deposit"]
    assert deposit["TotalAmt"] == 970.7 and deposit["CashBack"]["AccountRef"]["name"] == "Merchant Account Fees"


async def test_deactivated_customer_is_renamed_and_hidden_from_queries(q: Connected) -> None:
    customer = q.company.add_customer("Acme")
    async with q.client() as http:
        body = {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False}
        updated = (await post(http, q, "customer", body)).json()["Customer"]
        listed = (await http.get(q.path("query", query="select * from Customer"))).json()["QueryResponse"]
        with_inactive = await http.get(q.path("query", query="select * from Customer where Active IN (true, false)"))
        reused = await post(http, q, "customer", {"DisplayName": "Acme"})
    assert updated["DisplayName"] == "Acme (deleted)" and listed == {}
    assert len(with_inactive.json()["QueryResponse"]["Customer"]) == 1
    assert reused.status_code == 200


async def test_account_term_item_name_lists(q: Connected) -> None:
    async with q.client() as http:
        account = await post(http, q, "account", {"Name": "Stripe Clearing", "AccountType": "Bank"})
        dup = fault(await post(http, q, "account", {"Name": "Checking", "AccountType": "Bank"}))
        bad_type = fault(await post(http, q, "account", {"Name": "X", "AccountType": "Piggy"}))
        term = await post(http, q, "term", {"Name": "Net 45", "DueDays": 45})
        item = fault(await post(http, q, "item", {"Name": "Support", "Type": "Service"}))
    assert account.json()["Account"]["Classification"] == "Asset"
    assert dup["code"] == "6240" and bad_type["code"] == "2170"
    assert term.json()["Term"]["Type"] == "STANDARD"
    assert item["code"] == "2020" and "IncomeAccountRef" in item["Detail"]
