"""QuickBooks sandbox: the query language subset and change data capture."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.quickbooks.testing import Connected, connected


@pytest.fixture
def q() -> Connected:
    qbo = connected()
    company = qbo.company
    acme, globex = company.add_customer("Acme Ltd"), company.add_customer("Globex Corp")
    for n, amount in enumerate((100, 250, 75), start=1):
        company.add_invoice(acme["Id"], amount, doc_number=f"A-{n}", TxnDate=f"2026-03-0{n}")
    company.add_invoice(globex["Id"], 500, doc_number="G-1", TxnDate="2026-04-01")
    return qbo


async def query(q: Connected, text: str, method: str = "GET") -> httpx.Response:
    async with q.client() as http:
        if method == "GET":
            return await http.get(q.path("query", query=text))
        return await http.post(q.path("query"), content=text, headers={"Content-Type": "application/text"})


async def rows(q: Connected, text: str) -> list[dict[str, Any]]:
    response = await query(q, text)
    assert response.status_code == 200, response.text
    return response.json()["QueryResponse"].get("Invoice", [])


def fault(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    return response.json()["Fault"]["Error"][0]


async def test_get_and_post_give_the_same_envelope(q: Connected) -> None:
    text = "SELECT * FROM Invoice WHERE TotalAmt > '90' ORDERBY TotalAmt DESC"
    got, posted = await query(q, text), await query(q, text, "POST")
    body = got.json()
    assert set(body) == {"QueryResponse", "time"}
    assert body["QueryResponse"]["startPosition"] == 1 and body["QueryResponse"]["maxResults"] == 3
    assert [i["DocNumber"] for i in body["QueryResponse"]["Invoice"]] == ["G-1", "A-2", "A-1"]
    assert posted.json()["QueryResponse"] == body["QueryResponse"]


async def test_where_and_in_like_refs_and_dates(q: Connected) -> None:
    acme = q.company.names["Customer"]["acme ltd"]
    assert {i["DocNumber"] for i in await rows(q, f"select * from invoice where CustomerRef = '{acme}' "
                                                  "and TxnDate >= '2026-03-02'")} == {"A-2", "A-3"}  # fmt: skip
    assert {i["DocNumber"] for i in await rows(q, "select * from Invoice where DocNumber IN ('A-1', 'G-1')")} == {
        "A-1", "G-1"}  # fmt: skip
    assert [i["DocNumber"] for i in await rows(q, "select * from Invoice where DocNumber like 'a-%'")] == [
        "A-1", "A-2", "A-3"]  # fmt: skip
    customers = (await query(q, "select * from Customer where DisplayName LIKE '%corp'")).json()["QueryResponse"]
    assert [c["DisplayName"] for c in customers["Customer"]] == ["Globex Corp"]


async def test_metadata_last_updated_time_filter(q: Connected) -> None:
    q.state.controls.clock.advance(120)
    latest = q.company.add_invoice(q.company.names["Customer"]["globex corp"], 5)
    stamp = latest["MetaData"]["LastUpdatedTime"]
    found = await rows(q, f"select * from Invoice where MetaData.LastUpdatedTime >= '{stamp}'")
    assert [i["Id"] for i in found] == [latest["Id"]]


async def test_paging_is_one_based_and_defaults_to_100(q: Connected) -> None:
    page = await rows(q, "select * from Invoice orderby DocNumber STARTPOSITION 2 MAXRESULTS 2")
    assert [i["DocNumber"] for i in page] == ["A-2", "A-3"]
    q.company.seed_bulk(customers=3, invoices_per_customer=50)
    first = (await query(q, "select * from Invoice")).json()["QueryResponse"]
    assert first["maxResults"] == 100 and len(first["Invoice"]) == 100
    beyond = await query(q, "select * from Invoice startposition 500 maxresults 10")
    assert beyond.json()["QueryResponse"] == {}


async def test_count(q: Connected) -> None:
    body = (await query(q, "SELECT COUNT(*) FROM Invoice WHERE TotalAmt < '200'")).json()
    assert body["QueryResponse"] == {"totalCount": 2}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("select * from Invoice where TotalAmt > '1' OR DocNumber = 'A-1'", "4000"),
        ("select * from Bill", "4000"),
        ("select Id from Invoice", "4000"),
        ("select * from Invoice where DocNumber != 'A-1'", "4000"),
        ("select * from Invoice maxresults 1001", "4001"),
        ("select * from Invoice where Line.Amount > '1'", "4001"),
        ("select * from Invoice orderby PrivateNote", "4001"),
        ("", "4000"),
    ],
)
async def test_unsupported_queries_are_faults(q: Connected, text: str, code: str) -> None:
    error = fault(await query(q, text))
    assert error["code"] == code
    assert error["Detail"].startswith("QueryParserError" if code == "4000" else "QueryValidationError")


async def test_or_error_names_the_token(q: Connected) -> None:
    error = fault(await query(q, "select * from Invoice where TotalAmt > '1' or DocNumber = 'A-1'"))
    assert '<OR> "or' in error["Detail"] and error["Message"] == "Error parsing query"


async def cdc(q: Connected, **params: Any) -> httpx.Response:
    async with q.client() as http:
        return await http.get(q.path("cdc", **params))


async def test_cdc_returns_changes_and_deletions(q: Connected) -> None:
    since = q.state.controls.clock.now()
    q.state.controls.clock.advance(1)
    acme = q.company.names["Customer"]["acme ltd"]
    fresh = q.company.add_invoice(acme, 10)
    doomed = q.company.add_invoice(acme, 20)
    async with q.client() as http:
        await http.post(q.path("invoice", operation="delete"), json={"Id": doomed["Id"], "SyncToken": "0"})
    response = await cdc(q, entities="Invoice,Payment", changedSince=since.isoformat())
    blocks = response.json()["CDCResponse"][0]["QueryResponse"]
    assert set(response.json()) == {"CDCResponse", "time"}
    invoices = blocks[0]["Invoice"]
    assert [i["Id"] for i in invoices] == [fresh["Id"], doomed["Id"]]
    assert invoices[1]["status"] == "Deleted" and blocks[1] == {}


async def test_cdc_limits(q: Connected) -> None:
    old = q.state.controls.clock.now()
    q.state.controls.clock.advance(days=31)
    q.tokens = q.state.connect(q.app.client_id, q.realm)  # the first access token died weeks ago
    too_old = fault(await cdc(q, entities="Invoice", changedSince=old.isoformat()))
    missing = fault(await cdc(q, changedSince=old.isoformat()))
    since = q.state.controls.clock.now().isoformat()
    q.state.controls.clock.advance(1)
    q.company.seed_bulk(customers=11, invoices_per_customer=100)
    capped = (await cdc(q, entities="Customer,Invoice", changedSince=since)).json()
    blocks = capped["CDCResponse"][0]["QueryResponse"]
    assert too_old["code"] == "4001" and missing["code"] == "2020"
    assert sum(len(b.get("Customer", b.get("Invoice", []))) for b in blocks) == 1000
