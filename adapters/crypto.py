"""Secrets at rest: AES-256-GCM with a key ring, so keys can rotate without re-encrypting everything at once.

Ciphertext format: "v1.<kid>.<base64url(nonce || ciphertext+tag)>". The first key of the ring encrypts;
any key of the ring decrypts, chosen by the kid in the ciphertext.
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def _b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _b64e(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def new_key_ring_entry(kid: str) -> str:
    """A fresh "kid:key" entry for ARBRIDGE_ENCRYPTION_KEYS."""
    return f"{kid}:{_b64e(AESGCM.generate_key(bit_length=256))}"


class KeyRing:
    def __init__(self, spec: str) -> None:
        self._keys: dict[str, AESGCM] = {}
        self._active = ""
        for entry in (e.strip() for e in spec.split(",") if e.strip()):
            kid, _, raw = entry.partition(":")
            key = _b64d(raw)
            if not kid or "." in kid or len(key) != 32:
                raise ValueError("each key ring entry must be 'kid:<base64url of 32 bytes>' (kid without dots)")
            self._keys[kid] = AESGCM(key)
            self._active = self._active or kid
        if not self._keys:
            raise ValueError("the key ring is empty")

    def encrypt(self, plaintext: str, context: str = "") -> str:
        """`context` is bound as associated data: a ciphertext moved to another row fails to decrypt."""
        nonce = os.urandom(12)
        sealed = self._keys[self._active].encrypt(nonce, plaintext.encode(), context.encode())
        return f"v1.{self._active}.{_b64e(nonce + sealed)}"

    def decrypt(self, token: str, context: str = "") -> str:
        version, kid, body = token.split(".", 2)
        if version != "v1" or kid not in self._keys:
            raise ValueError(f"cannot decrypt: unknown key id {kid!r}")
        raw = _b64d(body)
        return self._keys[kid].decrypt(raw[:12], raw[12:], context.encode()).decode()
