"""What the HaloPSA sync reads from Halo: pages of raw records and single records, through this port.

Records stay raw dicts here (Halo's lowercase field names); `domain/halosync/mapping.py` turns them into our
shapes and says what is wrong with the ones it cannot take.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class HaloResource(StrEnum):
    """The four collections a sync reads, by their path under `/api`."""

    CLIENTS = "Client"
    AGREEMENTS = "ClientContract"
    INVOICES = "Invoice"
    PAYMENTS = "InvoicePayment"


@dataclass(frozen=True)
class HaloPage:
    """One page of a paginated list (`pageinate=true`): the records, and Halo's total for the whole query."""

    records: list[dict[str, Any]]
    record_count: int
    page_no: int
    page_size: int  # the size Halo actually used (it may clamp what was asked)


class HaloReadFailed(Exception):
    """A read that could not be completed after the adapter's retries: the reason is for the MSP to read.

    `retryable` is False when asking again cannot help (403 for a missing scope, credentials refused)."""

    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class HaloReader(Protocol):
    async def page(
        self, resource: HaloResource, page_no: int, page_size: int, params: dict[str, str] | None = None
    ) -> HaloPage:
        """`GET /api/<resource>?pageinate=true&page_size=&page_no=&<params>`. Raises HaloReadFailed."""

    async def record(
        self, resource: HaloResource, record_id: int, params: dict[str, str] | None = None
    ) -> dict[str, Any] | None:
        """`GET /api/<resource>/<id>`; None when Halo answers 404 (deleted). Raises HaloReadFailed."""
