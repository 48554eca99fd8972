"""API client credentials: public ids and secrets, stored hashed.

Secrets are 256-bit random values, not human passwords: a slow password hash buys nothing against brute
force here, so SHA-256 with a constant-time comparison keeps the token endpoint fast.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_client_id() -> str:
    return "arb_" + secrets.token_hex(12)


def new_client_secret() -> str:
    return "arbsec_" + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


def verify_secret(secret: str, stored: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored)
