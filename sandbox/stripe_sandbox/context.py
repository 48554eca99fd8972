"""One operation against one Stripe account: who asked (request id, idempotency key) and where (partition).

Handlers, scheduled work (ACH settlement, funds becoming available) and test helpers all act through an
`Op`, so every state change records its Event the same way whichever of them caused it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sandbox.stripe_sandbox import events

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.state import StripeState
    from sandbox.stripe_sandbox.store import Obj, Partition


@dataclass(slots=True)
class Op:
    st: StripeState
    part: Partition
    request_id: str | None = None
    idempotency_key: str | None = None
    api_version: str | None = None

    def now(self) -> int:
        return int(self.st.controls.clock.timestamp())

    def new_id(self, prefix: str, length: int = 24) -> str:
        return self.st.new_id(prefix, length)

    def store(self, kind: str, obj: Obj) -> Obj:
        return self.part.table(kind).add(obj)

    def emit(self, type_: str, obj: Obj, previous: dict[str, Any] | None = None) -> Obj:
        return events.record(self, type_, obj, previous)

    def on(self, part: Partition) -> Op:
        """The same request acting on another account (a direct charge's application fee lands on the
        platform)."""
        return Op(self.st, part, self.request_id, self.idempotency_key, self.api_version)
