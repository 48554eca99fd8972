"""Access tokens: short-lived ES256 JWTs carrying tenant and scopes.

Signing keys live in `signing_keys` (private halves encrypted with the key ring), each with a `kid`.
Rotation adds a key and retires the old one; a retired key still verifies for one token lifetime plus the
reload interval, so live tokens survive a rotation.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.crypto import KeyRing
from adapters.db.tables import signing_keys
from domain.auth import Principal

ISSUER = "arbridge"
ALGORITHM = "ES256"
RELOAD_SECONDS = 60
_CACHE_MAX = 10_000


class InvalidToken(Exception):
    pass


@dataclass
class _Keys:
    signing: ECKey
    verifying: KeySet
    loaded_at: float


class SigningKeyStore:
    def __init__(self, engine: AsyncEngine, ring: KeyRing, token_ttl: int) -> None:
        self.engine = engine
        self.ring = ring
        self.grace = timedelta(seconds=token_ttl + RELOAD_SECONDS * 2)

    async def rotate(self) -> str:
        """Create a new active key and retire the others. Returns the new kid."""
        kid = f"k{int(time.time())}-{uuid.uuid4().hex[:8]}"
        key = ECKey.generate_key("P-256", parameters={"kid": kid}, private=True)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(signing_keys).where(signing_keys.c.retired_at.is_(None)).values(retired_at=datetime.now(UTC))
            )
            await conn.execute(
                signing_keys.insert().values(
                    kid=kid,
                    algorithm=ALGORITHM,
                    private_key_encrypted=self.ring.encrypt(key.as_pem(private=True).decode(), f"signing_key:{kid}"),
                    public_jwk=key.as_dict(private=False),
                    created_at=datetime.now(UTC),
                )
            )
        return kid

    async def load(self) -> _Keys:
        cutoff = datetime.now(UTC) - self.grace
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(signing_keys)
                    .where((signing_keys.c.retired_at.is_(None)) | (signing_keys.c.retired_at > cutoff))
                    .order_by(signing_keys.c.created_at.desc())
                )
            ).all()
        active = [r for r in rows if r.retired_at is None]
        if not active:
            await self.rotate()
            return await self.load()
        pem = self.ring.decrypt(active[0].private_key_encrypted, f"signing_key:{active[0].kid}")
        signing = ECKey.import_key(pem, parameters={"kid": active[0].kid})
        verifying = KeySet([ECKey.import_key(dict(r.public_jwk)) for r in rows])
        return _Keys(signing, verifying, time.monotonic())

    async def public_jwks(self) -> dict[str, object]:
        keys = await self.load()
        return dict(keys.verifying.as_dict(private=False))


class TokenService:
    def __init__(self, store: SigningKeyStore, ttl_seconds: int) -> None:
        self.store = store
        self.ttl = ttl_seconds
        self._keys: _Keys | None = None
        self._verified: dict[str, tuple[Principal, float]] = {}

    async def _current(self, force: bool = False) -> _Keys:
        stale = self._keys is None or time.monotonic() - self._keys.loaded_at > RELOAD_SECONDS
        if force or stale:
            self._keys = await self.store.load()
        assert self._keys is not None
        return self._keys

    async def issue(self, principal: Principal) -> str:
        keys = await self._current()
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": principal.client_id,
            "tid": str(principal.tenant_id),
            "scope": " ".join(sorted(principal.scopes)),
            "iat": now,
            "exp": now + self.ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode({"alg": ALGORITHM, "kid": keys.signing.kid, "typ": "at+jwt"}, claims, keys.signing)

    async def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None:
            principal, exp = cached
            if time.time() < exp:
                return principal
            del self._verified[token]
            raise InvalidToken("the access token has expired")
        keys = await self._current()
        try:
            try:
                decoded = jwt.decode(token, keys.verifying, algorithms=[ALGORITHM])
            except JoseError:
                # Perhaps signed with a key created by another process since we last loaded: reload once.
                keys = await self._current(force=True)
                decoded = jwt.decode(token, keys.verifying, algorithms=[ALGORITHM])
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": ISSUER},
                exp={"essential": True},
                tid={"essential": True},
                sub={"essential": True},
            ).validate(decoded.claims)
            c = decoded.claims
            principal = Principal(uuid.UUID(c["tid"]), str(c["sub"]), frozenset(str(c.get("scope", "")).split()))
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            if "expired" in str(exc).lower():
                raise InvalidToken("the access token has expired") from exc
            raise InvalidToken("the access token is not valid") from exc
        if len(self._verified) >= _CACHE_MAX:
            self._verified.clear()
        self._verified[token] = (principal, float(c["exp"]))
        return principal
