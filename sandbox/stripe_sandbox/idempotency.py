"""Idempotency-Key storage (docs.stripe.com/idempotency): the first response per (account, key) is kept
with a fingerprint of its endpoint and params, replayed verbatim (status and body, 5xx included), and
forgotten 24 hours later by the sandbox clock. Pruning walks an insertion-ordered deque from the old end,
so it costs O(expired keys), never a scan of every key.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

TTL_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 255


@dataclass(slots=True)
class StoredResponse:
    endpoint: str  # "POST /v1/payment_intents"
    fingerprint: str
    status: int
    body: bytes
    request_id: str
    at: float


class IdempotencyStore:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], StoredResponse] = {}
        self._expiry: deque[tuple[float, tuple[str, str]]] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, account: str, key: str, now: float) -> StoredResponse | None:
        self.prune(now)
        return self._items.get((account, key))

    def put(self, account: str, key: str, stored: StoredResponse) -> None:
        self._items[(account, key)] = stored
        self._expiry.append((stored.at, (account, key)))

    def prune(self, now: float) -> None:
        cutoff = now - TTL_SECONDS
        while self._expiry and self._expiry[0][0] <= cutoff:
            at, ident = self._expiry.popleft()
            item = self._items.get(ident)
            if item is not None and item.at == at:
                del self._items[ident]
