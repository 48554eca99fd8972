"""Agreements (HaloPSA's ClientContract): what a client is contracted for, copied in by the HaloPSA sync.

Read-only here: the sync writes them. Whether an agreement is contract-billed is not stored on it: it is
whether its subtype is among the subtypes the MSP chose in the HaloPSA sync settings, so it follows a change
of those settings at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime


@dataclass(frozen=True)
class Agreement:
    tenant_id: uuid.UUID
    id: uuid.UUID
    client_id: uuid.UUID
    source: str  # "halopsa"
    external_id: str  # the PSA's own id
    reference: str | None
    type_name: str | None  # the agreement type's name in the PSA, e.g. "Managed Services"
    subtype: str  # what the MSP picks contract-billed subtypes by
    start_date: date | None
    end_date: date | None
    active: bool
    billing_period: int | None  # the PSA's billing period code, as given
    period_charge: int  # minor units of `currency`
    created_at: datetime
    updated_at: datetime
    # Filled from the HaloPSA sync settings by the use cases (domain/usecases/agreements.py).
    currency: str = "USD"  # the sync's currency: the one the PSA's charge was converted to minor units in
    contract_billed: bool = False

    def under(self, contract_billed_subtypes: frozenset[str], currency: str) -> Agreement:
        return replace(self, contract_billed=self.subtype in contract_billed_subtypes, currency=currency)


@dataclass(frozen=True)
class AgreementFilter:
    client_id: uuid.UUID | None = None
    active: bool | None = None


@dataclass(frozen=True)
class SubtypeCount:
    """What the store knows about one subtype: the type names its agreements carry and how many there are."""

    subtype: str
    type_names: tuple[str, ...]
    agreements: int


@dataclass(frozen=True)
class AgreementSubtype:
    subtype: str
    type_names: tuple[str, ...]
    agreements: int
    contract_billed: bool


def _natural(subtype: str) -> tuple[int, int, str]:
    """Halo's subtypes are numbers kept as text: "2" sorts before "10"."""
    return (0, int(subtype), subtype) if subtype.isdigit() else (1, 0, subtype)


def subtype_summary(counts: Iterable[SubtypeCount], chosen: frozenset[str]) -> list[AgreementSubtype]:
    """Every subtype the agreements have, plus any chosen subtype that no agreement has (with 0 agreements,
    so a stale choice shows), in natural order."""
    found: dict[str, SubtypeCount] = {c.subtype: c for c in counts}
    for subtype in chosen - found.keys():
        found[subtype] = SubtypeCount(subtype, (), 0)
    return [
        AgreementSubtype(c.subtype, tuple(sorted(c.type_names)), c.agreements, c.subtype in chosen)
        for c in sorted(found.values(), key=lambda c: _natural(c.subtype))
    ]


def with_settings(agreements: Sequence[Agreement], chosen: frozenset[str], currency: str) -> list[Agreement]:
    return [a.under(chosen, currency) for a in agreements]
