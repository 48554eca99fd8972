"""What keeps a GraphQL page cheap, and must not change what it answers: documents parsed and validated once
(limits still enforced), a page's clients read in the page's own transaction, the DataLoader elsewhere."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema
from graphql import FieldNode, FragmentDefinitionNode, OperationDefinitionNode, parse
from sqlalchemy.ext.asyncio import AsyncEngine

from api.graphql import selection
from api.graphql.documents import DocumentStore, _Entry
from api.graphql.schema import DOCUMENTS
from tests.conftest import Api
from tests.statements import recorded_statements

# --- documents: parsed and validated once per distinct text ---


@contextmanager
def _counting(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    calls = {"parse": 0, "validate": 0}
    real_parse, real_validate = strawberry_schema.parse, strawberry_schema.validate_document

    def parse_(*args: Any, **kwargs: Any) -> Any:
        calls["parse"] += 1
        return real_parse(*args, **kwargs)

    def validate_(*args: Any, **kwargs: Any) -> Any:
        calls["validate"] += 1
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "parse", parse_)
    monkeypatch.setattr(strawberry_schema, "validate_document", validate_)
    yield calls


def _unique(document: str) -> str:
    """The store is shared by the whole process: a comment makes this test's text its own."""
    return f"# {uuid.uuid4()}\n{document}"


async def test_a_document_is_parsed_and_validated_once(tenant_a: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    c = await tenant_a.new_client("Once Dental")
    await tenant_a.new_invoice(c["id"], number="ONCE-1")
    query = _unique("{ invoices(first: 5) { edges { node { number client { name } } } } }")
    with _counting(monkeypatch) as calls:
        first = await tenant_a.gql(query)
        second = await tenant_a.gql(query)
        other = await tenant_a.gql(_unique("{ invoices(first: 5) { edges { node { number } } } }"))
    assert (
        first
        == second
        == {"data": {"invoices": {"edges": [{"node": {"number": "ONCE-1", "client": {"name": "Once Dental"}}}]}}}
    )
    assert other["data"]["invoices"]["edges"] == [{"node": {"number": "ONCE-1"}}]
    assert calls == {"parse": 2, "validate": 2}  # the first text once, the other text once


async def test_a_refused_document_is_refused_again(tenant_a: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    inner = "name"
    for _ in range(45):
        inner = f"ofType {{ {inner} }}"
    deep = _unique(f"{{ __schema {{ types {{ fields {{ type {{ {inner} }} }} }} }} }}")
    aliases = _unique("{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }")
    with _counting(monkeypatch) as calls:
        for _ in range(2):
            for document, code in ((deep, "QUERY_TOO_DEEP"), (aliases, "TOO_MANY_ALIASES")):
                body = await tenant_a.gql(document)
                assert body.get("data") is None, body
                [error] = body["errors"]
                assert error["extensions"]["code"] == code
    assert calls["validate"] == 2  # the second refusals came from the store, with the same errors


async def test_the_token_limit_holds_for_every_request(tenant_a: Api) -> None:
    # Short enough to be stored if it parsed (2 characters a token): it must not parse, now or later.
    too_many = _unique("{ " + "a " * 5_001 + "}")
    stored = len(DOCUMENTS)
    for _ in range(2):
        body = await tenant_a.gql(too_many)
        assert body.get("data") is None, body
        assert "tokens" in body["errors"][0]["message"]
    assert len(DOCUMENTS) == stored


async def test_long_documents_are_not_stored(tenant_a: Api) -> None:
    long = _unique("#" + "x" * DOCUMENTS.max_document_chars + "\n{ __typename }")
    stored = len(DOCUMENTS)
    assert (await tenant_a.gql(long)) == {"data": {"__typename": "Query"}}
    assert len(DOCUMENTS) == stored


def test_the_store_is_bounded_by_the_length_of_its_texts() -> None:
    store = DocumentStore(max_total_chars=100, max_document_chars=50)
    doc = parse("{ __typename }")
    for name in "abc":
        store.put((name,), _Entry(doc, 40))
    assert len(store) == 2 and store.get(("a",)) is None  # a + b + c = 120 > 100: the oldest went
    assert store.get(("b",)) is not None  # b is now the most recently used ...
    store.put(("d",), _Entry(doc, 40))
    assert store.get(("c",)) is None and store.get(("b",)) is not None  # ... so c went first


# --- a page's clients: read in the page's transaction when selected ---


_statements = recorded_statements


def _transactions(statements: list[str]) -> int:
    return sum("set_config('app.tenant_id'" in s for s in statements)  # the first statement of each


@pytest.mark.parametrize(
    "query",
    [
        "{ invoices(first: 10) { edges { node { number client { name } } } } }",
        # aliases, inline fragments and named fragments reach `client` too
        "{ invoices(first: 10) { edges { ... on InvoiceEdge { node { ...N } } } } }"
        " fragment N on Invoice { number who: client { name } }",
    ],
)
async def test_a_page_and_its_clients_are_read_in_one_transaction(tenant_a: Api, query: str) -> None:
    c1, c2 = await tenant_a.new_client("First Dental"), await tenant_a.new_client("Second Dental")
    await tenant_a.new_invoice(c1["id"], number="T-1")
    await tenant_a.new_invoice(c2["id"], number="T-2")
    await tenant_a.new_invoice(c1["id"], number="T-3")
    engine: AsyncEngine = tenant_a.client.app.state.services.engine
    await tenant_a.gql(query)  # warm caches outside the count (e.g. the verified token)

    with _statements(engine) as seen:
        body = await tenant_a.gql(query)
    assert "errors" not in body, body
    got = {
        e["node"]["number"]: next(v for k, v in e["node"].items() if k != "number")
        for e in body["data"]["invoices"]["edges"]
    }
    assert got == {"T-3": {"name": "First Dental"}, "T-2": {"name": "Second Dental"}, "T-1": {"name": "First Dental"}}
    assert _transactions(seen) == 1, seen
    assert sum("FROM clients" in s for s in seen) == 1, seen


async def test_clients_are_not_read_when_not_selected(tenant_a: Api) -> None:
    c = await tenant_a.new_client()
    await tenant_a.new_invoice(c["id"])
    engine: AsyncEngine = tenant_a.client.app.state.services.engine
    query = "{ invoices(first: 10) { edges { node { number total { amount } } } } }"
    await tenant_a.gql(query)
    with _statements(engine) as seen:
        body = await tenant_a.gql(query)
    assert len(body["data"]["invoices"]["edges"]) == 1
    assert not any("FROM clients" in s for s in seen), seen


async def test_a_single_invoice_and_mutation_results_load_their_client(tenant_a: Api) -> None:
    c = await tenant_a.new_client("Loader Dental")
    inv = await tenant_a.new_invoice(c["id"])
    body = await tenant_a.gql("query($id: ID!) { invoice(id: $id) { client { name } } }", {"id": inv["id"]})
    assert body == {"data": {"invoice": {"client": {"name": "Loader Dental"}}}}

    created = await tenant_a.gql(
        """mutation($input: CreateInvoiceInput!) {
          createInvoice(input: $input) { ... on Invoice { number lines { amount { amount } } client { name } } } }""",
        {
            "input": {
                "clientId": c["id"],
                "number": "MUT-1",
                "currency": "USD",
                "issueDate": "2026-11-01",
                "dueDate": "2026-12-01",
                "lines": [{"description": "Managed services", "quantity": "2", "unitAmount": 1_250}],
            }
        },
    )
    assert created == {
        "data": {
            "createInvoice": {
                "number": "MUT-1",
                "lines": [{"amount": {"amount": 2_500}}],
                "client": {"name": "Loader Dental"},
            }
        }
    }
    voided = await tenant_a.gql(
        "mutation($id: ID!) { voidInvoice(id: $id) { ... on Invoice { status client { name } } } }", {"id": inv["id"]}
    )
    assert voided == {"data": {"voidInvoice": {"status": "VOID", "client": {"name": "Loader Dental"}}}}


async def test_text_beyond_ascii_round_trips(tenant_a: Api) -> None:
    name = "Zürich Zahnärzte — 東京 ✓"
    c = await tenant_a.new_client(name)
    body = await tenant_a.gql("query($id: ID!) { client(id: $id) { name } }", {"id": c["id"]})
    assert body == {"data": {"client": {"name": name}}}


def _info(document: str) -> Any:
    """The part of strawberry's Info that selects_node_field reads, for the document's first root field."""
    doc = parse(document)
    operation = next(d for d in doc.definitions if isinstance(d, OperationDefinitionNode))
    root = operation.selection_set.selections[0]
    assert isinstance(root, FieldNode)
    fragments = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
    return SimpleNamespace(_raw_info=SimpleNamespace(field_nodes=[root], fragments=fragments))


def test_selection_is_read_through_fragments_and_aliases() -> None:
    assert selection.selects_node_field(_info("{ invoices { edges { node { client { id } } } } }"), "client")
    assert selection.selects_node_field(
        _info("{ invoices { ...E } } fragment E on InvoiceConnection { edges { ... { node { c: client { id } } } } }"),
        "client",
    )
    assert not selection.selects_node_field(_info("{ invoices { edges { node { number } } } }"), "client")
    assert not selection.selects_node_field(
        _info("{ invoices { edges { cursor } client: pageInfo { hasNextPage } } }"), "client"
    )


def test_selection_follows_each_fragment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Valid, within every limit, and 10^30 fields deep if each spread were expanded again (as strawberry's
    # `info.selected_fields` does): the walk must stay linear in the document.
    frags = [f"fragment F{i} on Invoice {{ {' '.join([f'...F{i + 1}'] * 10)} }}" for i in range(30)]
    frags.append("fragment F30 on Invoice { number client { name } }")
    info = _info("{ invoices { edges { node { ...F0 } } } }\n" + "\n".join(frags))
    followed = 0
    real = selection.fields_of

    def counted(*args: Any) -> Any:
        for f in real(*args):
            nonlocal followed
            followed += 1
            yield f

    monkeypatch.setattr(selection, "fields_of", counted)
    assert selection.selects_node_field(info, "client")
    assert followed < 10
