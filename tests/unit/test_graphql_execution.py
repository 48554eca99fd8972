"""The execution shortcuts (api/graphql/execution.py) answer exactly what strawberry's own path answers:
the same data and the same errors at the same paths, edge cases included."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType

from api.graphql.execution import ArbridgeExecutor, streamline


@strawberry.type
class Thing:
    name: str
    nickname: str | None
    count: int
    wrong_count: int  # holds text: the Int scalar refuses it
    missing: str  # holds None on a non-null field

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    def asked_by(self, info: strawberry.Info) -> str:
        return str(info.context["who"])

    @strawberry.field
    def fails(self) -> str | None:
        raise ValueError(f"no luck for {self.name}")

    @strawberry.field
    def fails_hard(self) -> str:
        raise ValueError("no value")

    @strawberry.field
    def twin(self) -> Thing | None:
        if self.name == "b":
            return None
        return Thing(name=self.name * 2, nickname=None, count=self.count * 2, wrong_count=0, missing="twin")

    @strawberry.field
    def greet(self, greeting: str = "hello") -> str:
        return f"{greeting} {self.name}"


def _things() -> list[Thing]:
    return [
        Thing(name="a", nickname="ay", count=1, wrong_count="one", missing="here"),  # type: ignore[arg-type]
        Thing(name="b", nickname=None, count=2, wrong_count=2, missing=None),  # type: ignore[arg-type]
    ]


@strawberry.type
class Query:
    @strawberry.field
    def things(self) -> list[Thing]:
        return _things()

    @strawberry.field
    def maybe_things(self) -> list[Thing | None] | None:
        return [*_things(), None]

    @strawberry.field
    def ghostly(self) -> Thing:
        thing = _things()[0]
        del thing.nickname  # an attribute gone missing: an error, not a silent null
        return thing


def _plain() -> strawberry.Schema:
    return strawberry.Schema(query=Query)


def _fast() -> strawberry.Schema:
    fast = strawberry.Schema(query=Query, execution_context_class=ArbridgeExecutor)
    streamline(fast)
    return fast


DOCUMENTS = [
    '{ things { name nickname count shout askedBy greet(greeting: "hi") twin { name count twin { name } } } }',
    "{ things { wrongCount } }",
    "{ maybeThings { name wrongCount } }",
    "{ maybeThings { missing } }",
    "{ things { name fails } }",
    "{ maybeThings { name failsHard } }",
    "{ things { ... on Thing { n: name c: count } ...F } } fragment F on Thing { nickname shout }",
    "{ things { __typename name } }",
    "{ ghostly { name nickname } }",
]


def _outcome(result: Any) -> tuple[Any, list[tuple[str, Any]]]:
    return result.data, sorted((e.message, e.path) for e in result.errors or [])


@pytest.mark.parametrize("document", DOCUMENTS)
async def test_same_answer_both_ways(document: str) -> None:
    context = {"who": "tester"}
    plain = await _plain().execute(document, context_value=context)
    fast = await _fast().execute(document, context_value=context)
    assert _outcome(fast) == _outcome(plain)
    assert plain.data is not None or plain.errors  # each document exercises something


async def test_the_shortcuts_are_taken() -> None:
    fast = _fast()
    thing = fast._schema.type_map["Thing"]
    assert isinstance(thing, GraphQLObjectType)
    # A field with a resolver and no arguments calls the method directly; one with arguments keeps strawberry's.
    assert thing.fields["shout"].resolve.__module__ == "api.graphql.execution"
    assert thing.fields["greet"].resolve.__module__ != "api.graphql.execution"
    result = await fast.execute("{ things { name count } }")
    assert result.data == {"things": [{"name": "a", "count": 1}, {"name": "b", "count": 2}]}
    planned = {plan[0] for _, plan in ArbridgeExecutor._plans.values() if plan is not None}
    assert {"name", "count"} <= planned
