"""Whole selections completed in one pass, when nothing in them needs graphql-core's per-field machinery.

A page of 50 invoices with their totals and clients is about 450 fields. graphql-core completes each one
alike (a Path, a ResolveInfo, the resolver, complete_value's dispatch), and that generic work, not reading
our objects, was most of a GraphQL page's CPU. Most of those fields are plain: an attribute, or a method
that needs nothing but the object. For a field whose whole selection is plain, `compile_selection` builds
one function that reads and serialises the subtree with ordinary Python loops.

The compiled function answers only when the ordinary path would answer the same without an error. Anything
it cannot vouch for (a null on a non-null field, a value a scalar refuses, an exception, an awaitable, a
list that is not a list) raises `TakeTheOrdinaryPath`, and the executor completes the field the ordinary
way, which reports the error at its path. That re-reads the subtree, so only side-effect-free readers are
compiled: attributes, argument-less methods that take no `info` (see execution.streamline), and methods
marked with `answers_without_info`.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar

from graphql import (
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    is_leaf_type,
)
from graphql.pyutils import Undefined
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

Reader = Callable[[Any], Any]  # the field's value, read from its parent object
Completer = Callable[[Any], Any]  # a value to its completed (serialised) form
F = TypeVar("F", bound=Callable[..., Any])

# Set on a resolver function by `answers_without_info`, and on streamline's direct resolvers.
SHORTCUT_ATTRIBUTE = "_arbridge_reads_without_info"


class TakeTheOrdinaryPath(Exception):  # a signal, not an error
    """The compiled selection cannot vouch for this value: complete it the ordinary way."""


def answers_without_info(reader: Reader) -> Callable[[F], F]:
    """Mark a resolver that takes `info` only for its slow case: when `reader(source)` is not None, that is
    the field's value, and the executor may skip building an Info for it."""

    def mark(func: F) -> F:
        setattr(func, SHORTCUT_ATTRIBUTE, reader)
        return func

    return mark


def strawberry_field(field_def: GraphQLField) -> StrawberryField | None:
    found = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return found if isinstance(found, StrawberryField) else None


def reads_attribute(field: StrawberryField, field_def: GraphQLField) -> bool:
    """A field strawberry resolves by reading the attribute of its name, with nothing around the read."""
    return field.is_basic_field and not field.extensions and getattr(field_def.resolve, "_is_default", False)


def reader_of(field_def: GraphQLField) -> Reader | None:
    """How to read a field's value without graphql-core, or None (see the module's docstring)."""
    field = strawberry_field(field_def)
    if field is None or field.extensions or field_def.args:
        return None
    if reads_attribute(field, field_def):
        return attrgetter(field.python_name)
    direct = getattr(field_def.resolve, SHORTCUT_ATTRIBUTE, None)  # streamline's, for methods without info
    if direct is not None:
        return _awaitables_refused(direct)
    resolver = field.base_resolver
    marked = getattr(resolver.wrapped_func, SHORTCUT_ATTRIBUTE, None) if resolver is not None else None
    if marked is None:
        return None

    def read(source: Any) -> Any:
        value = marked(source)
        if value is None:  # the resolver's slow case, which needs its Info
            raise TakeTheOrdinaryPath
        return value

    return _awaitables_refused(read)


def _awaitables_refused(read: Reader) -> Reader:
    def checked(source: Any) -> Any:
        value = read(source)
        if hasattr(value, "__await__"):
            close = getattr(value, "close", None)
            if close is not None:
                close()  # a coroutine we will not await: closed, so it is not reported as never awaited
            raise TakeTheOrdinaryPath
        return value

    return checked


def _leaf(serialise: Callable[[Any], Any], nullable: bool) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise TakeTheOrdinaryPath
        out = serialise(value)
        if out is None or out is Undefined:
            raise TakeTheOrdinaryPath
        return out

    return complete


def _list(item: Completer, nullable: bool) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise TakeTheOrdinaryPath
        if type(value) is not list and type(value) is not tuple:  # other iterables may be one-shot
            raise TakeTheOrdinaryPath
        return [item(v) for v in value]

    return complete


def _object(fields: list[tuple[str, Reader, Completer]], nullable: bool) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise TakeTheOrdinaryPath
        return {key: finish(read(value)) for key, read, finish in fields}

    return complete


# What compile_selection needs from the executor: the schema's field lookup and graphql-core's memoised
# collection of a selection's subfields (fragments, aliases, @skip and @include already applied).
FieldLookup = Callable[[GraphQLObjectType, str], GraphQLField | None]
Collect = Callable[[GraphQLObjectType, Any], Any]


def compile_selection(
    output_type: GraphQLOutputType, field_details_list: Any, field_of: FieldLookup, collect: Collect
) -> Completer | None:
    """A function completing values of `output_type` for this selection, or None where the selection holds
    something only the ordinary path handles (arguments, abstract types, deferred fragments, resolvers that
    need their Info)."""
    nullable = not isinstance(output_type, GraphQLNonNull)
    inner = output_type.of_type if isinstance(output_type, GraphQLNonNull) else output_type
    if is_leaf_type(inner):
        return _leaf(inner.coerce_output_value, nullable)
    if isinstance(inner, GraphQLList):
        item = compile_selection(inner.of_type, field_details_list, field_of, collect)
        return _list(item, nullable) if item is not None else None
    if not isinstance(inner, GraphQLObjectType) or inner.is_type_of is not None:
        return None
    grouped_field_set, deferred, *_ = collect(inner, field_details_list)
    if deferred:
        return None
    fields: list[tuple[str, Reader, Completer]] = []
    for response_key, sub_details in grouped_field_set.items():
        node = sub_details[0].node
        name = node.name.value
        if name == "__typename":
            fields.append((response_key, _constant(inner.name), _same))
            continue
        sub_def = field_of(inner, name)
        if sub_def is None or node.arguments:
            return None
        read = reader_of(sub_def)
        finish = compile_selection(sub_def.type, sub_details, field_of, collect) if read is not None else None
        if read is None or finish is None:
            return None
        fields.append((response_key, read, finish))
    return _object(fields, nullable)


def _same(value: Any) -> Any:
    return value


def _constant(value: Any) -> Reader:
    return lambda _source: value
