"""Xero sandbox: the accounting gate, envelopes and dates, paging, If-Modified-Since, where, invoices."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandbox.common import Fault
from sandbox.xero.testing import ConnectedSandbox, connected_sandbox


@pytest.fixture
def xero() -> ConnectedSandbox:
    return connected_sandbox()


def _invoice(contact: str = "Bob's Burgers", **extra) -> dict:
    line = {"Description": "Managed services", "Quantity": 2, "UnitAmount": "50.00", "AccountCode": "200"}
    return {"Type": "ACCREC", "Contact": {"Name": contact}, "LineItems": [line], "Date": "2019-03-11",
            "DueDate": "2019-04-10", "Status": "AUTHORISED", **extra}  # fmt: skip


async def test_gate_token_scope_tenant_and_accept(xero: ConnectedSandbox) -> None:
    h = xero.headers()
    assert (await xero.get("Invoices", headers={**h, "authorization": "Bearer junk"})).status_code == 401
    no_tenant = await xero.get("Invoices", headers={k: v for k, v in h.items() if k != "xero-tenant-id"})
    assert no_tenant.status_code == 403 and no_tenant.json()["Title"] == "Forbidden"
    assert (await xero.get("Invoices", headers=xero.headers(xero.other))).status_code == 403  # not connected
    bad = await xero.get("Invoices", headers={**h, "xero-tenant-id": "not-a-guid"})
    assert bad.status_code == 403
    narrow = xero.state.connect(xero.app, [xero.org], scopes=["accounting.contacts.read"])["access_token"]
    denied = await xero.get("Invoices", headers=xero.headers(token=narrow))
    assert denied.status_code == 401 and denied.json()["Detail"] == "AuthorizationUnsuccessful"
    assert (await xero.get("Contacts", headers=xero.headers(token=narrow))).status_code == 200
    assert (await xero.put("Contacts", {"Name": "X"}, headers=xero.headers(token=narrow))).status_code == 401
    xml = await xero.get("Invoices", headers={**h, "accept": "*/*"})
    assert xml.status_code == 406  # Xero would answer XML, which is not emulated
    lower = await xero.http.get("/api.xro/2.0/invoices", headers=h)
    assert lower.status_code == 200  # paths are case-insensitive


async def test_envelope_and_ms_ajax_dates(xero: ConnectedSandbox) -> None:
    xero.state.controls.clock.freeze(datetime(2019, 3, 11, 17, 58, 46, 117000, tzinfo=UTC))
    made = await xero.put("Invoices", {"Invoices": [_invoice(Date="/Date(1552262400000+0000)/")]})
    assert made.status_code == 200, made.text
    doc = made.json()
    assert list(doc)[:4] == ["Id", "Status", "ProviderName", "DateTimeUTC"]
    assert doc["Status"] == "OK" and doc["ProviderName"] == "arbridge"
    assert len(made.headers["xero-correlation-id"]) == 36
    assert doc["DateTimeUTC"] == "/Date(1552327126117)/"
    inv = doc["Invoices"][0]
    assert inv["Date"] == "/Date(1552262400000+0000)/" and inv["DateString"] == "2019-03-11T00:00:00"
    assert inv["DueDate"] == "/Date(1554854400000+0000)/"
    assert inv["UpdatedDateUTC"] == "/Date(1552327126117+0000)/"
    assert inv["Total"] == 100 and inv["AmountDue"] == 100 and inv["InvoiceNumber"] == "INV-0001"
    assert '"Total":100.00' in made.text  # money is written with two decimals, as Xero writes it


async def test_paging_defaults_and_caps(xero: ConnectedSandbox) -> None:
    xero.state.seed_invoices(xero.org, 250, contacts=5)
    first = (await xero.get("Invoices")).json()
    assert first["pagination"] == {"page": 1, "pageSize": 100, "pageCount": 3, "itemCount": 250}
    assert len(first["Invoices"]) == 100
    last = (await xero.get("Invoices", params={"page": 3})).json()
    assert len(last["Invoices"]) == 50 and last["Invoices"][-1]["InvoiceNumber"] == "INV-0250"
    big = (await xero.get("Invoices", params={"pageSize": 5000})).json()
    assert big["pagination"]["pageSize"] == 1000 and len(big["Invoices"]) == 250
    beyond = (await xero.get("Invoices", params={"page": 9, "pageSize": 50})).json()
    assert beyond["Invoices"] == [] and beyond["pagination"]["pageCount"] == 5
    accounts = (await xero.get("Accounts")).json()
    assert "pagination" not in accounts and len(accounts["Accounts"]) == 8


async def test_if_modified_since_uses_updated_date(xero: ConnectedSandbox) -> None:
    clock = xero.state.controls.clock
    clock.freeze(datetime(2024, 1, 1, 9, 0, tzinfo=UTC))
    old = (await xero.put("Invoices", _invoice("Old Co"))).json()["Invoices"][0]
    clock.advance(hours=1)
    new = (await xero.put("Invoices", _invoice("New Co"))).json()["Invoices"][0]
    since = {"If-Modified-Since": "2024-01-01T09:30:00"}

    async def ids(headers: dict) -> list[str]:
        answer = await xero.get("Invoices", headers={**xero.headers(), **headers})
        return [i["InvoiceID"] for i in answer.json()["Invoices"]]

    assert await ids(since) == [new["InvoiceID"]]
    assert await ids({"If-Modified-Since": "2024-01-01T10:00:00.000+00:00"}) == [new["InvoiceID"]]  # inclusive
    assert await ids({"If-Modified-Since": "Mon, 01 Jan 2024 09:30:00 GMT"}) == [new["InvoiceID"]]
    clock.advance(hours=1)
    await xero.post(f"Invoices/{old['InvoiceID']}", {"Reference": "touched"})
    assert set(await ids(since)) == {old["InvoiceID"], new["InvoiceID"]}


async def test_where_and_list_filters(xero: ConnectedSandbox) -> None:
    s, org = xero.state, xero.org
    ann, ben = s.add_contact(org, "Ann"), s.add_contact(org, "Ben")
    a1 = s.add_invoice(org, ann, "10.00")
    a2 = s.add_invoice(org, ann, "20.00", status="DRAFT")
    b1 = s.add_invoice(org, ben, "30.00")
    bill = s.add_invoice(org, ben, "40.00", kind="ACCPAY")

    async def numbers(**params) -> list[str]:
        answer = await xero.get("Invoices", params=params)
        assert answer.status_code == 200, answer.text
        return sorted(i["InvoiceNumber"] or "bill" for i in answer.json()["Invoices"])

    assert await numbers(where='Status=="AUTHORISED"') == sorted(["bill", a1.number, b1.number])
    assert await numbers(where='Type=="ACCREC"') == sorted([a1.number, a2.number, b1.number])
    guid = f'Contact.ContactID==guid("{ann.contact_id}")'
    assert await numbers(where=guid) == sorted([a1.number, a2.number])
    assert await numbers(where=f'{guid} AND Status=="AUTHORISED"') == [a1.number]
    as_text = f'Contact.ContactID.ToString()=="{ann.contact_id}" OR Total > 35'
    assert await numbers(where=as_text) == sorted(["bill", a1.number, a2.number])
    assert await numbers(where=f'Contact.ContactID=="{str(ben.contact_id).upper()}"') == sorted(["bill", b1.number])
    assert await numbers(where=f'Type=="ACCREC" && AmountDue >= 20 && {guid}') == [a2.number]
    assert await numbers(Statuses="DRAFT,AUTHORISED", ContactIDs=str(ben.contact_id)) == sorted(["bill", b1.number])
    assert await numbers(IDs=f"{a1.invoice_id},{bill.invoice_id}") == sorted(["bill", a1.number])
    assert await numbers(InvoiceNumbers=a2.number) == [a2.number]
    ordered = await xero.get("Invoices", params={"order": "Total DESC"})
    assert [i["Total"] for i in ordered.json()["Invoices"]] == [40, 30, 20, 10]
    bad = await xero.get("Invoices", params={"where": 'Colour=="red"'})
    assert bad.status_code == 400 and bad.json()["Type"] == "QueryParseException" and bad.json()["ErrorNumber"] == 16
    assert (await xero.get("Invoices", params={"where": 'Status=="AUTHORISED" AND'})).status_code == 400


async def test_get_one_by_id_or_number_and_plain_404(xero: ConnectedSandbox) -> None:
    inv = xero.state.add_invoice(xero.org, xero.state.add_contact(xero.org, "Ann"), "12.50")
    by_id = (await xero.get(f"Invoices/{inv.invoice_id}")).json()
    by_number = (await xero.get(f"Invoices/{inv.number}")).json()
    assert by_id["Invoices"][0]["InvoiceID"] == by_number["Invoices"][0]["InvoiceID"] == str(inv.invoice_id)
    assert "pagination" not in by_id
    missing = await xero.get("Invoices/8f2f1c52-8a1a-4f0e-9d7c-5f8c3c1f0000")
    assert missing.status_code == 404 and missing.text == "The resource you're looking for cannot be found"
    assert (await xero.get("Unicorns")).status_code == 404


async def test_put_creates_post_upserts_and_validation_envelope(xero: ConnectedSandbox) -> None:
    made = (await xero.put("Invoices", _invoice(InvoiceNumber="INV-77"))).json()["Invoices"][0]
    dup = await xero.put("Invoices", _invoice(InvoiceNumber="INV-77"))
    assert dup.status_code == 400
    body = dup.json()
    assert body["ErrorNumber"] == 10 and body["Type"] == "ValidationException"
    assert body["Message"] == "A validation exception occurred"
    assert body["Elements"][0]["ValidationErrors"] == [{"Message": "Invoice # must be unique."}]
    assert body["Elements"][0]["InvoiceNumber"] == "INV-77"
    again = await xero.put("Invoices", {**_invoice(), "InvoiceID": made["InvoiceID"]})
    assert again.status_code == 400  # PUT never updates
    updated = await xero.post("Invoices", {"Invoices": [{"InvoiceNumber": "INV-77", "Reference": "PO-9"}]})
    assert updated.status_code == 200 and updated.json()["Invoices"][0]["InvoiceID"] == made["InvoiceID"]
    assert updated.json()["Invoices"][0]["Reference"] == "PO-9"
    created = await xero.post("Invoices", _invoice(InvoiceNumber="INV-78"))
    assert created.status_code == 200 and created.json()["Invoices"][0]["InvoiceID"] != made["InvoiceID"]
    ghost = await xero.post("Invoices/8f2f1c52-8a1a-4f0e-9d7c-5f8c3c1f0000", {"Reference": "x"})
    assert ghost.status_code == 404
    no_contact = await xero.put("Invoices", {**_invoice(), "Contact": {}})
    message = no_contact.json()["Elements"][0]["ValidationErrors"][0]["Message"]
    assert message.startswith("The Contact must contain at least 1 of the following elements")
    junk = await xero.http.put("/api.xro/2.0/Invoices", content=b"{not json", headers=xero.headers())
    assert junk.status_code == 400 and junk.json()["Type"] == "PostDataInvalidException"
    bad_code = await xero.put("Invoices", {**_invoice(), "LineItems": [{"Description": "x", "UnitAmount": 1,
                                                                         "AccountCode": "999"}]})  # fmt: skip
    assert "Account code '999' is not a valid code" in bad_code.text


async def test_summarize_errors(xero: ConnectedSandbox) -> None:
    good, bad = _invoice("Good Co", InvoiceNumber="G-1"), {**_invoice(), "Status": "PAID"}
    refused = await xero.put("Invoices", {"Invoices": [good, bad]})
    assert refused.status_code == 400 and len(refused.json()["Elements"]) == 1
    assert (await xero.get("Invoices")).json()["Invoices"] == []  # all or nothing
    assert xero.state.orgs[xero.org.tenant_id].contact_by_name("Good Co") is None
    mixed = await xero.put("Invoices", {"Invoices": [good, bad]}, params={"summarizeErrors": "false"})
    assert mixed.status_code == 200
    ok, failed = mixed.json()["Invoices"]
    assert ok["StatusAttributeString"] == "OK" and ok["HasErrors"] is False
    assert failed["StatusAttributeString"] == "ERROR" and failed["HasErrors"] is True
    assert failed["ValidationErrors"] == [{"Message": "Invoice not of valid status for creation"}]
    assert [i["InvoiceNumber"] for i in (await xero.get("Invoices")).json()["Invoices"]] == ["G-1"]


async def test_invoice_status_transitions(xero: ConnectedSandbox) -> None:
    draft = (await xero.put("Invoices", _invoice(Status="DRAFT"))).json()["Invoices"][0]
    path = f"Invoices/{draft['InvoiceID']}"
    assert (await xero.post(path, {"Status": "AUTHORISED"})).json()["Invoices"][0]["Status"] == "AUTHORISED"
    deleted = await xero.post(path, {"Status": "DELETED"})
    assert deleted.status_code == 400 and "not of valid status" in deleted.text
    assert (await xero.post(path, {"Status": "PAID"})).status_code == 400  # only payments pay
    voided = (await xero.post(path, {"Status": "VOIDED"})).json()["Invoices"][0]
    assert voided["Status"] == "VOIDED" and voided["AmountDue"] == 0
    assert (await xero.post(path, {"Reference": "too late"})).status_code == 400
    s, org = xero.state, xero.org
    part = s.add_invoice(org, s.add_contact(org, "Part"), "100.00")
    s.add_payment(org, part, "40.00")
    refused = await xero.post(f"Invoices/{part.invoice_id}", {"Status": "VOIDED"})
    assert "payment or credit note allocated" in refused.text
    full = s.add_invoice(org, s.add_contact(org, "Full"), "100.00")
    s.add_payment(org, full, "100.00")
    assert (await xero.post(f"Invoices/{full.invoice_id}", {"Status": "VOIDED"})).status_code == 400


async def test_faults_and_request_log_wrap_the_sandbox(xero: ConnectedSandbox) -> None:
    xero.state.controls.inject(Fault("status", status=503, body={"oops": 1}, path_prefix="/api.xro"))
    assert (await xero.get("Invoices")).status_code == 503
    assert (await xero.get("Invoices")).status_code == 200
    logged = xero.state.controls.requests("GET", "/api.xro/2.0/Invoices")
    assert [e.status for e in logged] == [503, 200] and logged[0].headers["xero-tenant-id"] == str(xero.org.tenant_id)
