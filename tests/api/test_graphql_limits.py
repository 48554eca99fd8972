"""Depth and alias limits answer with a clear GraphQL error and run nothing; unexpected errors are masked."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from graphql import get_introspection_query, parse

from api.graphql import limits
from domain.usecases import clients as client_uc
from tests.conftest import Api

CLIENT_COUNT = "{ clients(first: 200) { edges { node { id } } } }"


def _deep_introspection(levels: int) -> str:
    # __schema { types { fields { type { ofType { ofType ... { name } } } } } }: 4 + (levels - 5) + 1 levels.
    inner = "name"
    for _ in range(levels - 5):
        inner = f"ofType {{ {inner} }}"
    return f"{{ __schema {{ types {{ fields {{ type {{ {inner} }} }} }} }} }}"


async def _client_count(api: Api) -> int:
    body = await api.gql(CLIENT_COUNT)
    return len(body["data"]["clients"]["edges"])


def _only_error(body: dict[str, Any], code: str) -> str:
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == code, error
    return str(error["message"])


async def test_a_query_50_levels_deep_is_refused(tenant_a: Api) -> None:
    query = _deep_introspection(50)
    assert limits.check_document(parse(query))  # the document really is that deep
    message = _only_error(await tenant_a.gql(query), "QUERY_TOO_DEEP")
    assert "50 levels deep" in message and "limit is 15" in message


async def test_depth_through_nested_fragments_is_counted(tenant_a: Api) -> None:
    # Each fragment adds two levels; the spreads alone add none, so the depth must be followed through them.
    frags = [f"fragment T{i} on __Type {{ ofType {{ ofType {{ ...T{i + 1} }} }} }}" for i in range(24)]
    frags.append("fragment T24 on __Type { name }")
    query = "{ __schema { types { ...T0 } } }\n" + "\n".join(frags)
    message = _only_error(await tenant_a.gql(query), "QUERY_TOO_DEEP")
    assert "51 levels deep" in message


async def test_a_deep_query_next_to_a_mutation_runs_neither(tenant_a: Api) -> None:
    # The whole document is validated before any operation in it runs.
    before = await _client_count(tenant_a)
    document = (
        'mutation Make { createClient(input: {name: "Sneaky"}) { __typename } }\n'
        + "query Deep "
        + _deep_introspection(50)
    )
    r = await tenant_a.post("/graphql", json={"query": document, "operationName": "Make"})
    assert r.status_code == 200, r.text
    _only_error(r.json(), "QUERY_TOO_DEEP")
    assert await _client_count(tenant_a) == before


async def test_the_standard_introspection_query_passes(tenant_a: Api) -> None:
    # What GraphiQL and code generators send (15 levels deep); the limits must not lock them out.
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    body = await tenant_a.gql(query)
    assert "errors" not in body, body["errors"]
    assert any(t["name"] == "MinorUnits" for t in body["data"]["__schema"]["types"])


async def test_a_thousand_aliases_are_refused(tenant_a: Api) -> None:
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(1000)) + " }"
    message = _only_error(await tenant_a.gql(query), "TOO_MANY_ALIASES")
    assert "1000 aliases" in message and "limit is 30" in message


async def test_a_thousand_aliased_mutations_create_nothing(tenant_a: Api) -> None:
    before = await _client_count(tenant_a)
    fields = " ".join(f'm{i}: createClient(input: {{name: "N{i}"}}) {{ __typename }}' for i in range(1000))
    body = await tenant_a.gql(f"mutation {{ {fields} }}")
    assert body.get("data") is None and body["errors"], body  # refused by the token or the alias limit
    assert body["errors"][0]["message"]
    assert await _client_count(tenant_a) == before

    fields = " ".join(f'm{i}: createClient(input: {{name: "N{i}"}}) {{ __typename }}' for i in range(31))
    _only_error(await tenant_a.gql(f"mutation {{ {fields} }}"), "TOO_MANY_ALIASES")
    assert await _client_count(tenant_a) == before


async def test_aliases_hidden_in_fragments_are_counted_per_spread(tenant_a: Api) -> None:
    frags = ["fragment A0 on Query { x0: __typename x1: __typename }"]
    frags += [f"fragment A{i} on Query {{ ...A{i - 1} ... on Query {{ ...A{i - 1} }} }}" for i in range(1, 12)]
    query = "{ ...A11 }\n" + "\n".join(frags)
    message = _only_error(await tenant_a.gql(query), "TOO_MANY_ALIASES")
    assert f"{2 * 2**11} aliases" in message


def test_each_fragment_is_measured_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # strawberry's limiters walk a fragment again at every spread: k fragments each spreading the next ten
    # times cost 10^k walks. Ours measures each selection set once, so the cost is linear in the document.
    frags = [f"fragment F{i} on Query {{ {' '.join([f'...F{i + 1}'] * 10)} }}" for i in range(30)]
    frags.append("fragment F30 on Query { __typename }")
    document = parse("{ ...F0 }\n" + "\n".join(frags))
    calls = 0
    real = limits._local_shape

    def counted(selection_set: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(selection_set)

    monkeypatch.setattr(limits, "_local_shape", counted)
    assert limits.check_document(document) == []
    assert calls == len(frags) + 1  # one per fragment, one for the operation (its root field is a leaf)


def test_data_fields_have_their_own_depth_limit() -> None:
    def nested(levels: int) -> str:
        inner = "leaf"
        for i in range(levels - 1):
            inner = f"f{i} {{ {inner} }}"
        return "{ " + inner + " }"

    assert limits.check_document(parse(nested(limits.MAX_DEPTH))) == []
    [error] = limits.check_document(parse(nested(limits.MAX_DEPTH + 1)))
    assert error.extensions == {"code": "QUERY_TOO_DEEP"}


def test_fragment_cycles_do_not_hang_the_limits() -> None:
    # Invalid (NoFragmentCyclesRule reports it); the limits must just not loop or recurse forever.
    document = parse("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A __typename }")
    assert limits.check_document(document) == []


async def test_unexpected_errors_are_masked_and_logged(
    tenant_a: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: Any) -> Any:
        raise RuntimeError("connection to db-7.internal failed, password=hunter2")

    monkeypatch.setattr(client_uc, "list_clients", broken)
    with caplog.at_level(logging.ERROR, logger="arbridge.graphql"):
        r = await tenant_a.post("/graphql", json={"query": CLIENT_COUNT})
    assert r.status_code == 200, r.text
    assert "hunter2" not in r.text and "db-7" not in r.text
    [error] = r.json()["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert error["path"] == ["clients"]
    assert "hunter2" in caplog.text  # we still see what happened


async def test_expected_errors_keep_their_message_and_code(tenant_a: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="arbridge.graphql"):
        body = await tenant_a.gql('{ invoices(first: 10, after: "%%%") { edges { cursor } } }')
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == [{"field": "after", "message": "is not a cursor this API issued"}]
    assert "after" in error["message"]
    assert caplog.text == ""  # a caller's mistake is not our incident

    body = await tenant_a.gql("{ invoices { nope } }")  # validation errors are for the caller to read
    assert "Cannot query field 'nope'" in body["errors"][0]["message"]
