"""Shortcuts through strawberry and graphql-core for the fields a page of invoices is made of.

graphql-core resolves every field alike: look up its definition, build a ResolveInfo, call the field's
resolver, then complete the value. Strawberry's resolver for a field adds its own layer on top: an `Info`,
argument conversion, the field-extension chain, exception handlers. On a page of 50 invoices that is about
450 fields, and this machinery, not our code, was most of the CPU a GraphQL page cost.

- Scalar fields read off an attribute (strawberry's "basic fields", two thirds of a page) skip all of it:
  `ArbridgeExecutor` reads the attribute and serialises it.
- Fields with a resolver but no arguments, extensions or exception handlers (`Invoice.client`, `lines`)
  get a plain resolver that calls the method directly (`streamline`), so graphql-core's own path, with its
  error handling, still runs around it.

- A field whose whole selection is plain (attributes and such direct methods all the way down, e.g. a
  connection's `edges` with each node's money and client) is completed in one pass by a function compiled
  for the request's selection (api/graphql/subtrees.py).

All apply only where the outcome cannot differ from strawberry's: anything else (a null on a non-null field,
a value the scalar refuses, an exception, a field with arguments or permissions) goes the ordinary way and
produces the ordinary errors. tests/api/test_graphql_execution.py runs documents both ways and compares.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLField, GraphQLNonNull, GraphQLObjectType, is_leaf_type
from graphql.pyutils import Undefined
from strawberry.schema.schema import Schema, StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

from api.graphql.subtrees import (
    SHORTCUT_ATTRIBUTE,
    Completer,
    Reader,
    compile_selection,
    reader_of,
    reads_attribute,
    strawberry_field,
)

_MISSING = object()

# What the executor does with a field: (attribute name, serialiser, nullable), or None for the full path.
_Plan = tuple[str, Callable[[Any], Any], bool] | None


def _plan(field_def: GraphQLField) -> _Plan:
    field = strawberry_field(field_def)
    if field is None or not reads_attribute(field, field_def):
        return None
    nullable = not isinstance(field_def.type, GraphQLNonNull)
    leaf = field_def.type if nullable else field_def.type.of_type  # type: ignore[union-attr]
    if not is_leaf_type(leaf):
        return None
    return field.python_name, leaf.coerce_output_value, nullable


class ArbridgeExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, with the attribute-scalar and plain-selection shortcuts."""

    # Keyed by the field definition's id: definitions live as long as the schema, which is module-global.
    _plans: dict[int, tuple[GraphQLField, _Plan]] = {}

    def execute_field(
        self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any, path: Any, position_context: Any
    ) -> Any:
        manager = self.middleware_manager
        if manager is None or not manager.middlewares:  # a middleware must see every field
            field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
            if field_def is not None:
                known = self._plans.get(id(field_def))
                if known is None or known[0] is not field_def:
                    known = self._plans[id(field_def)] = (field_def, _plan(field_def))
                plan = known[1]
                if plan is not None:
                    name, serialise, nullable = plan
                    value = getattr(source, name, _MISSING)
                    if value is None:
                        if nullable:
                            return None
                    elif value is not _MISSING:  # a missing attribute is the ordinary path's error to report
                        try:
                            serialised = serialise(value)
                        except Exception:  # noqa: BLE001 -- the ordinary path below reports it with its path
                            serialised = None
                        if serialised is not None and serialised is not Undefined:
                            return serialised
                else:
                    subtree = self._subtree(field_def, field_details_list)
                    if subtree is not None:
                        read, complete = subtree
                        try:
                            return complete(read(source))
                        except Exception:  # noqa: BLE001,S110 -- TakeTheOrdinaryPath or an error the path below reports
                            pass
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _subtree(self, field_def: GraphQLField, field_details_list: Any) -> tuple[Reader, Completer] | None:
        """The compiled selection for this field in this request, or None (compiled once per request)."""
        compiled: dict[int, tuple[Any, tuple[Reader, Completer] | None]] = self.__dict__.setdefault("_subtrees", {})
        known = compiled.get(id(field_details_list))
        if known is None or known[0] is not field_details_list:
            known = compiled[id(field_details_list)] = (
                field_details_list,
                self._compile(field_def, field_details_list),
            )
        return known[1]

    def _compile(self, field_def: GraphQLField, field_details_list: Any) -> tuple[Reader, Completer] | None:
        read = reader_of(field_def)
        if read is None or field_details_list[0].node.arguments:
            return None
        complete = compile_selection(field_def.type, field_details_list, self.schema.get_field, self.collect_subfields)
        return (read, complete) if complete is not None else None


def _direct_resolver(schema: Schema, field: StrawberryField) -> Callable[..., Any] | None:
    """A plain resolver calling `field`'s method, when strawberry's wrapper would add nothing to the call."""
    resolver = field.base_resolver
    if resolver is None or field.arguments or field.extensions or resolver.is_async:
        return None
    if resolver.self_parameter is None or resolver.parent_parameter or resolver.root_parameter:
        return None
    func: Callable[..., Any] = resolver.wrapped_func  # type: ignore[assignment]  # a plain function here
    info_parameter = resolver.info_parameter
    if info_parameter is None:

        def resolve_plainly(source: Any, _info: Any) -> Any:
            return func(source)

        setattr(resolve_plainly, SHORTCUT_ATTRIBUTE, func)  # compiled selections may call it too
        return resolve_plainly
    info_name, info_class = info_parameter.name, schema.config.info_class

    def resolve(source: Any, info: Any) -> Any:
        return func(source, **{info_name: info_class(_raw_info=info, _field=field)})

    return resolve


def streamline(schema: Schema) -> None:
    """Give eligible fields of `schema` a direct resolver (see the module's docstring)."""
    if schema.schema_converter._exception_handler_specs:
        return  # handlers turn exceptions into union members: they need strawberry's wrapper on every field
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        for field_def in graphql_type.fields.values():
            field = strawberry_field(field_def)
            direct = _direct_resolver(schema, field) if field is not None else None
            if direct is not None:
                field_def.resolve = direct
