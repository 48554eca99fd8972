"""Small pieces: ids, cursors, scopes, the key ring, secrets."""

from __future__ import annotations

import uuid

import pytest

from adapters.auth.secrets import hash_secret, new_client_secret, verify_secret
from adapters.crypto import KeyRing, new_key_ring_entry
from domain.auth import Principal, Scope, parse_scopes
from domain.errors import DomainError, ValidationFailed
from domain.ids import new_id
from domain.pagination import MAX_LIMIT, PageRequest, decode_cursor, encode_cursor


def test_ids_are_v7_and_increase() -> None:
    ids = [new_id() for _ in range(5000)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_cursor_round_trip_and_rejects_garbage() -> None:
    i = uuid.uuid4()
    assert decode_cursor(encode_cursor(i)) == i
    for bad in ("", "!!!", "AAAA"):
        with pytest.raises(ValueError):
            decode_cursor(bad)
    with pytest.raises(ValidationFailed):
        PageRequest.build(MAX_LIMIT + 1, None)
    assert PageRequest.build(None, None).limit == 50


def test_scopes() -> None:
    p = Principal(uuid.uuid4(), "c", frozenset({"invoices:read"}))
    assert p.allows(Scope.INVOICES_READ) and not p.allows(Scope.INVOICES_WRITE)
    assert Principal(uuid.uuid4(), "c", frozenset({"admin"})).allows(Scope.PAYMENTS_WRITE)
    granted = frozenset({"invoices:read", "clients:read"})
    assert parse_scopes("invoices:read", granted) == {"invoices:read"}
    assert parse_scopes(None, granted) == granted
    with pytest.raises(DomainError):
        parse_scopes("admin", granted)


def test_key_ring_rotation_and_context_binding() -> None:
    old, new = new_key_ring_entry("k1"), new_key_ring_entry("k2")
    sealed = KeyRing(old).encrypt("refresh-token-123", "conn:1")
    rotated = KeyRing(f"{new},{old}")
    assert rotated.decrypt(sealed, "conn:1") == "refresh-token-123"
    assert rotated.encrypt("x").split(".")[1] == "k2"
    with pytest.raises(Exception):  # noqa: B017 - InvalidTag: moved to another row
        rotated.decrypt(sealed, "conn:2")
    with pytest.raises(ValueError):
        KeyRing(new).decrypt(sealed, "conn:1")
    assert "refresh-token-123" not in sealed


def test_client_secrets_are_hashed() -> None:
    s = new_client_secret()
    h = hash_secret(s)
    assert s not in h and verify_secret(s, h) and not verify_secret(s + "x", h)
