"""The whole of one Stripe sandbox: accounts and their objects, keys, idempotency, rate limits, webhooks,
and a schedule of work that Stripe does later (ACH settles, funds become available, payouts arrive).

Nothing lives at module level: a test builds a `StripeState`, hands it to `create_app`, and drives time
and faults through `state.controls`. Scheduled work runs when the sandbox clock passes its due time, checked
at every request and every helper call (a heap peek, O(1) when nothing is due); `advance()` moves the clock
and runs it at once. All mutation happens under `lock`, so a test thread may use the helpers while uvicorn
serves requests on another.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
from dataclasses import dataclass

from sandbox.common import SandboxControls
from sandbox.stripe_sandbox import accounts, tasks
from sandbox.stripe_sandbox.context import Op
from sandbox.stripe_sandbox.helpers import Helpers
from sandbox.stripe_sandbox.idempotency import IdempotencyStore
from sandbox.stripe_sandbox.oauth import OAuthRegistry
from sandbox.stripe_sandbox.ratelimit import RateLimiter
from sandbox.stripe_sandbox.store import Obj, Partition
from sandbox.stripe_sandbox.webhooks import WebhookHub

# The version stripe-python 16 pins (`stripe._api_version`); objects here follow fixtures3.json of that era.
DEFAULT_API_VERSION = "2026-10-28.endive"
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Random bytes mapped onto the alphabet with one translate: ids are the hottest allocation in a payment run.
_TO_ALNUM = bytes(ord(_ALNUM[i % len(_ALNUM)]) for i in range(256))


@dataclass
class ExecutionFault:
    """A failure inside Stripe after the request began executing: unlike an edge `Fault`, its 500 is
    stored against the Idempotency-Key and replayed."""

    path_prefix: str = "/v1/"
    method: str | None = "POST"
    times: int = 1


class StripeState(Helpers):
    def __init__(
        self,
        controls: SandboxControls | None = None,
        *,
        seed: int | None = None,
        api_version: str = DEFAULT_API_VERSION,
        platform_name: str = "Sandbox Platform",
    ) -> None:
        self.controls = controls or SandboxControls()
        self.lock = threading.RLock()
        # Reproducible ids for a given seed; nothing here is a real secret.
        self.rng = random.Random(seed)  # noqa: S311
        self.api_version = api_version
        self.platform_name = platform_name
        self.partitions: dict[str, Partition] = {}
        self.connected: set[str] = set()  # connected account ids the platform may act for
        self.api_keys: set[str] = set()  # empty: any sk_test_/rk_test_ key is the platform's
        self.idempotency = IdempotencyStore()
        self.rate_limits = RateLimiter()
        self.execution_faults: list[ExecutionFault] = []
        self.webhooks = WebhookHub(self.controls.clock, self.new_id, self.lock, seed)
        self.oauth = OAuthRegistry()
        # Behaviour switches tests may flip.
        self.ach_business_days = 4  # processing period of an ACH debit (and an ACH refund)
        self.payout_delay_days = 2  # card funds: pending -> available
        self.validate_cards_on_save = True  # decline cards fail SetupIntents and attach, as in Stripe
        self.allow_raw_card_data = False  # `card[number]` is refused unless switched on, as in Stripe
        self.oauth_auto_approve = False  # GET /oauth/authorize redirects at once instead of showing consent
        self._schedule: list[tuple[float, int, str, str, str]] = []
        self._seq = itertools.count()
        self.connect_client_id = "ca_" + self.random_chars(32)
        self.secret_key = "sk_test_" + self.random_chars(99)
        self.publishable_key = "pk_test_" + self.random_chars(99)
        platform = accounts.new_account(self, name=platform_name, email="platform@example.com")
        self.platform_id: str = platform["id"]
        self.platform = self._add_partition(platform, is_platform=True)

    # --- ids and time -------------------------------------------------------------------------------

    def random_chars(self, n: int) -> str:
        return self.rng.randbytes(n).translate(_TO_ALNUM).decode()

    def new_id(self, prefix: str, length: int = 24) -> str:
        return f"{prefix}_{self.random_chars(length)}"

    def now(self) -> int:
        return int(self.controls.clock.timestamp())

    # --- accounts -----------------------------------------------------------------------------------

    def _add_partition(self, account: Obj, *, is_platform: bool) -> Partition:
        part = Partition(account["id"], is_platform)
        part.table("account").add(account)
        self.partitions[account["id"]] = part
        return part

    def connect(self, account: Obj) -> Partition:
        """Make `account` a connected account of the platform (an OAuth grant or an API-created account)."""
        with self.lock:
            part = self.partitions.get(account["id"]) or self._add_partition(account, is_platform=False)
            if self.platform.get("account", account["id"]) is None:
                self.platform.table("account").add(account)
            self.connected.add(account["id"])
            return part

    def partition(self, account: str | None = None) -> Partition:
        if account is None or account == self.platform_id:
            return self.platform
        try:
            return self.partitions[account]
        except KeyError:
            raise KeyError(f"no such account {account}") from None

    def op(self, account: str | None = None) -> Op:
        """An operation for test helpers: no request id, the account's own default version."""
        return Op(self, self.partition(account), api_version=self.api_version)

    # --- scheduled work -----------------------------------------------------------------------------

    def schedule(self, due: float, account: str, kind: str, obj_id: str) -> None:
        heapq.heappush(self._schedule, (due, next(self._seq), account, kind, obj_id))

    def tick(self) -> int:
        """Run every scheduled task whose time has come; returns how many ran."""
        ran = 0
        with self.lock:
            now = self.controls.clock.timestamp()
            while self._schedule and self._schedule[0][0] <= now:
                _, _, account, kind, obj_id = heapq.heappop(self._schedule)
                tasks.run(self.op(account), kind, obj_id)
                ran += 1
        return ran

    def run_scheduled(self, kind: str, obj_id: str | None = None) -> int:
        """Run scheduled tasks of `kind` (for one object, or all) now, whatever their due time."""
        with self.lock:
            due = [t for t in self._schedule if t[3] == kind and (obj_id is None or t[4] == obj_id)]
            self._schedule = [t for t in self._schedule if t not in due]
            heapq.heapify(self._schedule)
            for _, _, account, k, oid in sorted(due):
                tasks.run(self.op(account), k, oid)
            return len(due)

    def advance(self, seconds: float = 0, **delta: float) -> int:
        """Move the sandbox clock forward and run whatever became due."""
        self.controls.clock.advance(seconds, **delta)
        return self.tick()

    # --- faults -------------------------------------------------------------------------------------

    def fail_next(self, path_prefix: str = "/v1/", method: str | None = "POST", times: int = 1) -> None:
        with self.lock:
            self.execution_faults.append(ExecutionFault(path_prefix, method, times))

    def take_execution_fault(self, method: str, path: str) -> bool:
        for f in self.execution_faults:
            if (f.method is None or f.method == method) and path.startswith(f.path_prefix):
                f.times -= 1
                if f.times <= 0:
                    self.execution_faults.remove(f)
                return True
        return False

    # --- reading state from tests -------------------------------------------------------------------

    def get(self, kind: str, obj_id: str, account: str | None = None) -> Obj:
        with self.lock:
            return self.partition(account).require(kind, obj_id)

    def events(self, type_: str | None = None, account: str | None = None) -> list[Obj]:
        """The account's events, oldest first, as plain dicts."""
        from sandbox.stripe_sandbox.events import to_dict

        with self.lock:
            table = self.partition(account).table("event")
            return [to_dict(e) for e in table.objects.values() if type_ is None or e["type"] == type_]
