"""HaloPSA sandbox: paging envelopes, bare arrays with `count`, ordering, filters, bulk seeding."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.halopsa import PAID, PARTIALLY_PAID, UNPAID, HaloLimits, HaloState, bearer_client


@pytest.fixture
def state() -> HaloState:
    """Three clients (one inactive), five invoices with distinct dates, two payments, three contracts."""
    s = HaloState()
    s.controls.clock.freeze()  # every step below advances it, so last_modified order is exact
    acme, globex, gone = s.create_client("Acme Corp"), s.create_client("Globex"), s.create_client("Gone Ltd")
    s.deactivate_client(gone["id"])
    line = [{"item_shortdescription": "Managed services", "qty_order": 2, "unit_price": 50.0, "tax_amount": 10.0}]
    for n, (client, day) in enumerate([(acme, 5), (globex, 1), (acme, 3), (acme, 9), (globex, 7)]):
        s.controls.clock.advance(60)
        s.create_invoice(client["id"], lines=line, invoice_date=f"2025-01-0{day}", reference=f"PO-{n}")
    for step in (lambda: s.post_invoice(1), lambda: s.post_invoice(2)):
        s.controls.clock.advance(1)
        step()
    s.controls.clock.advance(1)
    s.record_payment(1, 110.0)  # invoice 1 paid in full
    s.controls.clock.advance(1)
    s.record_payment(3, 50.0)  # invoice 3 partly paid
    s.create_contract(acme["id"], ref="MSA-ACME")
    s.create_contract(globex["id"], ref="MSA-GLOBEX")
    s.create_contract(acme["id"], ref="OLD-ACME", active=False)
    return s


async def _get(http: httpx.AsyncClient, path: str, **params: Any) -> Any:
    r = await http.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize(
    ("path", "key", "count"),
    [
        ("/api/Invoice", "invoices", 5),
        ("/api/Client", "clients", 2),
        ("/api/ClientContract", "contracts", 2),
        ("/api/InvoicePayment", "payments", 2),
    ],
)
async def test_pageinate_envelope_per_resource(state: HaloState, path: str, key: str, count: int) -> None:
    async with bearer_client(state) as http:
        body = await _get(http, path, pageinate="true", page_size=1, page_no=2)
    assert set(body) == {"record_count", "page_no", "page_size", key}
    assert body["record_count"] == count and body["page_no"] == 2 and body["page_size"] == 1
    assert len(body[key]) == 1 and body[key][0]["id"] == 2


async def test_pages_cover_everything_once_and_past_the_end_is_empty(state: HaloState) -> None:
    async with bearer_client(state) as http:
        pages = [await _get(http, "/api/Invoice", pageinate="true", page_size=2, page_no=n) for n in (1, 2, 3, 4)]
    ids = [inv["id"] for page in pages for inv in page["invoices"]]
    assert ids == [1, 2, 3, 4, 5] and pages[3]["invoices"] == [] and pages[3]["record_count"] == 5


async def test_page_size_is_clamped_and_defaults_apply() -> None:
    state = HaloState(limits=HaloLimits(max_page_size=3, default_page_size=2))
    state.seed(clients=2, invoices=10, lines_per_invoice=1)
    async with bearer_client(state) as http:
        clamped = await _get(http, "/api/Invoice", pageinate="true", page_size=1000)
        default = await _get(http, "/api/Invoice", pageinate="true")
    assert clamped["page_size"] == 3 and len(clamped["invoices"]) == 3 and clamped["record_count"] == 10
    assert default["page_size"] == 2 and default["page_no"] == 1 and len(default["invoices"]) == 2


async def test_without_pageinate_a_bare_array_honouring_count(state: HaloState) -> None:
    async with bearer_client(state) as http:
        everything = await _get(http, "/api/Invoice")
        capped = await _get(http, "/api/Invoice", count=2)
        ignored = await _get(http, "/api/Invoice", pageinate="false", page_size=1)
    assert isinstance(everything, list) and len(everything) == 5
    assert [i["id"] for i in capped] == [1, 2] and len(ignored) == 5


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"order": "invoice_date"}, [2, 3, 1, 5, 4]),
        ({"order": "invoice_date", "orderdesc": "true"}, [4, 5, 1, 3, 2]),
        ({"order": "id", "orderdesc": "true"}, [5, 4, 3, 2, 1]),
        # payments bump last_modified on invoices 1 and 3, after every other edit
        ({"order": "last_modified", "orderdesc": "true"}, [3, 1, 2, 5, 4]),
        ({"order": "client_name", "order2": "invoice_date", "orderdesc2": "true"}, [4, 1, 3, 5, 2]),
        ({"ORDER": "ID", "OrderDesc": "TRUE"}, [5, 4, 3, 2, 1]),  # ASP.NET binding ignores case
    ],
)
async def test_ordering(state: HaloState, params: dict[str, str], expected: list[int]) -> None:
    async with bearer_client(state) as http:
        body = await _get(http, "/api/Invoice", **params)
    assert [i["id"] for i in body] == expected


async def test_ordering_clients_by_name_and_contracts_by_ref(state: HaloState) -> None:
    async with bearer_client(state) as http:
        clients = await _get(http, "/api/Client", order="name", orderdesc="true", includeinactive="true")
        contracts = await _get(http, "/api/ClientContract", order="ref", includeinactive="true")
    assert [c["name"] for c in clients] == ["Gone Ltd", "Globex", "Acme Corp"]
    assert [c["ref"] for c in contracts] == ["MSA-ACME", "MSA-GLOBEX", "OLD-ACME"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/Invoice", {"order": "nonsense"}),
        ("/api/Client", {"order": "last_modified"}),
        ("/api/Invoice", {"pageinate": "yes"}),
        ("/api/Invoice", {"client_id": "abc"}),
        ("/api/Invoice", {"paymentstatuses": "1,x"}),
    ],
)
async def test_bad_query_values_are_400(state: HaloState, path: str, params: dict[str, str]) -> None:
    async with bearer_client(state) as http:
        r = await http.get(path, params=params)
    assert r.status_code == 400 and r.text


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"client_id": "1"}, [1, 3, 4]),
        ({"client_ids": "2,3"}, [2, 5]),
        ({"postedonly": "true"}, [1, 2]),
        ({"notpostedonly": "true"}, [3, 4, 5]),
        ({"paymentstatuses": f"{PAID},{PARTIALLY_PAID}"}, [1, 3]),
        ({"paymentstatuses": str(UNPAID)}, [2, 4, 5]),
        ({"search": "globex"}, [2, 5]),
        ({"search": "INV-000004"}, [4]),
        ({"search": "po-3"}, [4]),
        ({"client_id": "1", "postedonly": "true"}, [1]),
    ],
)
async def test_invoice_filters(state: HaloState, params: dict[str, str], expected: list[int]) -> None:
    async with bearer_client(state) as http:
        body = await _get(http, "/api/Invoice", pageinate="true", **params)
    assert [i["id"] for i in body["invoices"]] == expected and body["record_count"] == len(expected)


async def test_lines_only_with_includelines(state: HaloState) -> None:
    async with bearer_client(state) as http:
        plain = await _get(http, "/api/Invoice", pageinate="true")
        with_lines = await _get(http, "/api/Invoice", pageinate="true", includelines="true")
        explicit_no = await _get(http, "/api/Invoice", includelines="false")
    assert all("lines" not in i for i in plain["invoices"] + explicit_no)
    line = with_lines["invoices"][0]["lines"][0]
    assert line["ihid"] == 1 and line["net_amount"] == 100.0 and line["item_shortdescription"] == "Managed services"


async def test_client_filters(state: HaloState) -> None:
    async with bearer_client(state) as http:
        active = await _get(http, "/api/Client")
        everyone = await _get(http, "/api/Client", includeinactive="true")
        only_inactive = await _get(http, "/api/Client", includeinactive="true", includeactive="false")
        searched = await _get(http, "/api/Client", search="acme")
    assert [c["name"] for c in active] == ["Acme Corp", "Globex"]
    assert len(everyone) == 3 and [c["name"] for c in only_inactive] == ["Gone Ltd"]
    assert [c["id"] for c in searched] == [1]


async def test_contract_and_payment_filters(state: HaloState) -> None:
    async with bearer_client(state) as http:
        acme = await _get(http, "/api/ClientContract", client_id=1)
        acme_all = await _get(http, "/api/ClientContract", client_id=1, includeinactive="true")
        by_invoice = await _get(http, "/api/InvoicePayment", invoice_id=3)
        by_client = await _get(http, "/api/InvoicePayment", client_id=2)
    assert [c["ref"] for c in acme] == ["MSA-ACME"] and len(acme_all) == 2
    assert [(p["invoice_id"], p["amount"]) for p in by_invoice] == [(3, 50.0)]
    assert by_client == []


async def test_listing_sees_writes_made_after_a_cached_view(state: HaloState) -> None:
    async with bearer_client(state) as http:
        before = await _get(http, "/api/Invoice", order="last_modified", orderdesc="true", pageinate="true")
        state.controls.clock.advance(5)
        state.edit_invoice(4, duedate="2025-03-01")
        state.delete_invoice(5)
        after = await _get(http, "/api/Invoice", order="last_modified", orderdesc="true", pageinate="true")
    assert before["invoices"][0]["id"] == 3 and before["record_count"] == 5
    assert after["invoices"][0]["id"] == 4 and after["invoices"][0]["duedate"] == "2025-03-01T00:00:00Z"
    assert after["record_count"] == 4 and 5 not in [i["id"] for i in after["invoices"]]


async def test_bulk_seed_pages_through_like_a_sync() -> None:
    """The benchmark's shape: 2,000 clients, 50,000 invoices x 3 lines, paged 100 at a time, newest first."""
    state = HaloState()
    state.seed(clients=2_000, invoices=50_000, lines_per_invoice=3)
    assert len(state.invoices) == 50_000 and len(state.clients) == 2_000
    seen: list[int] = []
    previous = "9999"
    async with bearer_client(state) as http:
        page = 1
        while True:
            params = {
                "pageinate": "true",
                "page_size": 100,
                "page_no": page,
                "order": "last_modified",
                "orderdesc": "true",
            }
            body = await _get(http, "/api/Invoice", **params)
            for inv in body["invoices"]:
                assert inv["last_modified"] <= previous
                previous = inv["last_modified"]
            seen += [i["id"] for i in body["invoices"]]
            if len(seen) >= body["record_count"]:
                break
            page += 1
    assert page == 500 and len(set(seen)) == 50_000
    sample = state.invoice(12_345)
    assert sample is not None and len(sample["lines"]) == 3
