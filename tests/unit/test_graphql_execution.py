"""The execution shortcuts (api/graphql/execution.py) answer exactly what strawberry's own path answers:
the same data and the same errors at the same paths, edge cases included."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType

from api.graphql.execution import ArbridgeExecutor, streamline
from api.graphql.subtrees import answers_without_info


@strawberry.type
class Thing:
    name: str
    nickname: str | None
    count: int
    wrong_count: int  # holds text: the Int scalar refuses it
    missing: str  # holds None on a non-null field
    preset_label: strawberry.Private[str | None] = None  # when set, `label` needs no Info

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

    @strawberry.field
    @answers_without_info(lambda thing: thing.preset_label)
    def label(self, info: strawberry.Info) -> str:
        return self.preset_label or f"{self.name} for {info.context['who']}"  # the slow case needs its Info

    @strawberry.field
    def later(self) -> str:
        return _later(self.name)  # type: ignore[return-value]  # a plain method returning an awaitable

    @strawberry.field
    def parts(self) -> list[Part]:
        return [Part(size=self.count), Part(size=self.count + 1)]

    @strawberry.field
    def lazy_parts(self) -> list[Part]:
        return (Part(size=n) for n in (self.count,))  # type: ignore[return-value]  # an iterable, not a list


async def _later(name: str) -> str:
    return f"later {name}"


@strawberry.type
class Part:
    size: int


def _things() -> list[Thing]:
    return [
        Thing(name="a", nickname="ay", count=1, wrong_count="one", missing="here", preset_label="A"),  # type: ignore[arg-type]
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
    # Whole selections completed in one pass (api/graphql/subtrees.py), and where they must step aside.
    "{ things { twin { name count twin { name nickname } } parts { size } } }",
    "{ things { twin { __typename n: name ...on Thing { count } } } }",
    "{ things { twin { name missing } } }",
    "{ things { twin { name wrongCount } } }",
    "{ things { twin { name failsHard } } }",
    "{ things { twin { name fails } } }",
    "{ maybeThings { twin { name } } }",
    "{ things { label twin { label } } }",
    "{ things { later twin { later } } }",
    "{ things { lazyParts { size } twin { lazyParts { size } } } }",
    '{ things { parts { size } twin { greet(greeting: "yo") } } }',
    "query ($no: Boolean!) { things { twin { name count @skip(if: $no) } } }",
    "{ things { twin { name ... @defer { count } } } }",
]


def _outcome(result: Any) -> tuple[Any, list[tuple[str, Any]]]:
    return result.data, sorted((e.message, e.path) for e in result.errors or [])


@pytest.mark.parametrize("document", DOCUMENTS)
async def test_same_answer_both_ways(document: str) -> None:
    context = {"who": "tester"}
    variables = {"no": True}
    plain = await _plain().execute(document, context_value=context, variable_values=variables)
    fast = await _fast().execute(document, context_value=context, variable_values=variables)
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


async def test_plain_selections_are_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    import api.graphql.execution as execution

    compiled: list[bool] = []
    real = execution.compile_selection

    def spy(*args: Any) -> Any:
        found = real(*args)
        compiled.append(found is not None)
        return found

    monkeypatch.setattr(execution, "compile_selection", spy)
    result = await _fast().execute("{ things { twin { name parts { size } } } }")
    assert result.data == {
        "things": [{"twin": {"name": "aa", "parts": [{"size": 2}, {"size": 3}]}}, {"twin": None}],
    }
    assert compiled == [True]  # `things` with everything below it, compiled once
    compiled.clear()
    # A field with arguments below: neither `things` nor each thing's `twin` (tried once, for both) compiles.
    await _fast().execute("{ things { twin { greet } } }")
    assert compiled == [False, False]
