"""What a query selects below a connection field, read from the document (for loading related rows up front).

Not strawberry's `info.selected_fields`: it expands a fragment again at every spread, so a small document whose
fragments each spread the next one ten times (which the limits in limits.py allow: spreads add no depth) would
cost 10^k steps. Here each fragment is followed at most once per level, so the cost is linear in the document.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

from api.graphql.context import Info


def fields_of(
    selection_sets: Iterable[SelectionSetNode], fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    """The fields directly in these selection sets, through inline fragments and fragment spreads."""
    seen: set[str] = set()
    stack = list(selection_sets)
    while stack:
        for sel in stack.pop().selections:
            if isinstance(sel, FieldNode):
                yield sel
            elif isinstance(sel, InlineFragmentNode):
                stack.append(sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value not in seen:
                seen.add(sel.name.value)
                fragment = fragments.get(sel.name.value)
                if fragment is not None:
                    stack.append(fragment.selection_set)


def selects_node_field(info: Info, name: str) -> bool:
    """Whether the current connection field's selection reaches `edges { node { <name> } }` (under any alias).

    @skip and @include are not evaluated: a field they leave out counts as selected, which at worst loads rows
    that are not used."""
    raw = info._raw_info
    sets = [n.selection_set for n in raw.field_nodes if n.selection_set is not None]
    for step in ("edges", "node"):
        sets = [f.selection_set for f in fields_of(sets, raw.fragments) if f.name.value == step and f.selection_set]
    return any(f.name.value == name for f in fields_of(sets, raw.fragments))
