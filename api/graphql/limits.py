"""Depth and alias limits, checked while validating the document, before anything runs.

Why not strawberry's QueryDepthLimiter and MaxAliasesLimiter: they re-walk a fragment at every spread, so a
few hundred bytes of fragments that each spread the next one ten times cost seconds of CPU (10^k walks for
k fragments), and the depth limiter skips `__schema`/`__type` subtrees entirely, so introspection can be
nested as deep as the token limit allows. The rule below measures every fragment once (linear in the
document), iteratively (no recursion limit to hit), and counts introspection fields too, with their own
budget: the standard introspection query that GraphiQL and codegen tools send is 15 levels deep.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

MAX_DEPTH = 10  # our deepest real path (invoices.edges.node.lines.amount.amount) is 6
MAX_INTROSPECTION_DEPTH = 15
MAX_ALIASES = 30
MAX_TOKENS = 5_000

_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


@dataclass
class _Shape:
    """What a selection set holds by itself, before its fragment spreads are followed."""

    depth: int = 0  # levels of fields, 1 for a set of leaves
    aliases: int = 0
    spreads: list[tuple[int, str]] = field(default_factory=list)  # (levels of fields above it, fragment name)


def _local_shape(selection_set: SelectionSetNode) -> _Shape:
    shape = _Shape()
    stack = [(selection_set, 0)]
    while stack:
        current, above = stack.pop()
        for sel in current.selections:
            if isinstance(sel, FieldNode):
                shape.depth = max(shape.depth, above + 1)
                shape.aliases += sel.alias is not None
                if sel.selection_set:
                    stack.append((sel.selection_set, above + 1))
            elif isinstance(sel, InlineFragmentNode):
                stack.append((sel.selection_set, above))
            elif isinstance(sel, FragmentSpreadNode):
                shape.spreads.append((above, sel.name.value))
    return shape


def _resolve(shape: _Shape, totals: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """(depth, aliases) of a selection set with its spreads expanded. Unknown fragments and fragments in
    a cycle count as empty: other validation rules already reject those documents."""
    depth, aliases = shape.depth, shape.aliases
    for above, name in shape.spreads:
        d, a = totals.get(name, (0, 0))
        depth = max(depth, above + d)
        aliases += a
    return depth, aliases


def _fragment_totals(fragments: dict[str, FragmentDefinitionNode]) -> dict[str, tuple[int, int]]:
    """(depth, aliases) of every fragment, each computed once, children before parents (iterative DFS)."""
    shapes = {name: _local_shape(f.selection_set) for name, f in fragments.items()}
    totals: dict[str, tuple[int, int]] = {}
    for start, start_shape in shapes.items():
        if start in totals:
            continue
        in_progress = {start}
        stack: list[tuple[str, Iterator[tuple[int, str]]]] = [(start, iter(start_shape.spreads))]
        while stack:
            name, pending = stack[-1]
            nxt = next(pending, None)
            if nxt is None:
                stack.pop()
                in_progress.discard(name)
                totals[name] = _resolve(shapes[name], totals)
                continue
            child = nxt[1]
            if child in shapes and child not in totals and child not in in_progress:
                in_progress.add(child)
                stack.append((child, iter(shapes[child].spreads)))
    return totals


def _root_fields(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    """The operation's top-level fields, looking through fragments at the top level (each once)."""
    seen: set[str] = set()
    stack = [operation.selection_set]
    while stack:
        for sel in stack.pop().selections:
            if isinstance(sel, FieldNode):
                yield sel
            elif isinstance(sel, InlineFragmentNode):
                stack.append(sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value not in seen and sel.name.value in fragments:
                seen.add(sel.name.value)
                stack.append(fragments[sel.name.value].selection_set)


def check_document(document: DocumentNode) -> list[GraphQLError]:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    totals = _fragment_totals(fragments)
    errors: list[GraphQLError] = []
    aliases = 0
    for operation in (d for d in document.definitions if isinstance(d, OperationDefinitionNode)):
        # Aliases are counted at every spread of a fragment, like strawberry's limiter (but in linear time):
        # ten spreads of a fragment with three aliases are thirty.
        aliases += _resolve(_local_shape(operation.selection_set), totals)[1]
        for root in _root_fields(operation, fragments):
            depth = _resolve(_local_shape(root.selection_set), totals)[0] if root.selection_set else 0
            limit = MAX_INTROSPECTION_DEPTH if root.name.value in _INTROSPECTION_ROOTS else MAX_DEPTH
            if depth + 1 > limit:
                errors.append(
                    GraphQLError(
                        f"The selection under '{root.name.value}' is {depth + 1} levels deep; the limit is {limit}.",
                        root,
                        extensions={"code": "QUERY_TOO_DEEP"},
                    )
                )
    if aliases > MAX_ALIASES:
        errors.append(
            GraphQLError(
                f"The document uses {aliases} aliases; the limit is {MAX_ALIASES}.",
                extensions={"code": "TOO_MANY_ALIASES"},
            )
        )
    return errors


class QueryLimitsRule(ValidationRule):
    """graphql-core validation rule: the whole document is measured once, when the rule is created."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        for error in check_document(context.document):
            context.report_error(error)
