"""Stripe's form encoding: `a[b][c]=v` nests, `a[]=v` and `a[0]=v` build arrays (stripe-python sends the
indexed form, curl users the empty one), and every scalar arrives as a string that the endpoint coerces.

The parser works on the decoded pairs so the idempotency fingerprint can be taken from the same pairs:
two requests with the same parameters in a different order are the same request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from sandbox.stripe_sandbox.errors import invalid, required, unknown_param

Params = dict[str, Any]

# Under these keys, numeric children are map keys chosen by the caller, not array positions.
_MAP_KEYS = frozenset({"metadata"})


def decode_pairs(raw: bytes | str) -> list[tuple[str, str]]:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return parse_qsl(text, keep_blank_values=True)


def _split(key: str) -> list[str]:
    if "[" not in key:
        return [key]
    head, _, rest = key.partition("[")
    parts = [head]
    for piece in rest.split("["):
        if not piece.endswith("]"):
            raise invalid(f"Invalid parameter name: {key}", param=key)
        parts.append(piece[:-1])
    return parts


def parse_pairs(pairs: Iterable[tuple[str, str]]) -> Params:
    root: dict[str, Any] = {}
    appends = 0
    for key, value in pairs:
        parts = _split(key)
        node = root
        for i, segment in enumerate(parts):
            name = segment
            if name == "":  # `a[]`: append, keeping arrival order
                appends += 1
                name = f"\x00{appends:08d}"
            if i == len(parts) - 1:
                if isinstance(node.get(name), dict):
                    raise invalid(f"Invalid hash: {key}", param=key)
                node[name] = value
            else:
                child = node.setdefault(name, {})
                if not isinstance(child, dict):
                    raise invalid(f"Invalid hash: {key}", param=key)
                node = child
    params = _normalise(root, in_map=False)
    if not isinstance(params, dict):
        raise invalid("Invalid parameters: the request body must be a hash.")
    return params


def _normalise(node: dict[str, Any], *, in_map: bool) -> Any:
    out = {k: _normalise(v, in_map=k in _MAP_KEYS) if isinstance(v, dict) else v for k, v in node.items()}
    if out and not in_map and all(k.isdigit() or k.startswith("\x00") for k in out):
        keys = sorted(out, key=lambda k: (k.startswith("\x00"), int(k.lstrip("\x00") or 0)))
        return [out[k] for k in keys]
    return out


def fingerprint(method: str, path: str, pairs: list[tuple[str, str]]) -> str:
    """What "the same request" means for Idempotency-Key replay: endpoint plus the multiset of params.
    Array order matters to Stripe but the SDK's indexed keys already carry it."""
    h = hashlib.sha256(f"{method} {path}\n".encode())
    for k, v in sorted(pairs):
        h.update(f"{k}={v}\x00".encode())
    return h.hexdigest()


# --- coercion -------------------------------------------------------------------------------------------


def check_allowed(params: Mapping[str, Any], allowed: frozenset[str]) -> None:
    for key in params:
        if key not in allowed and key != "expand":
            raise unknown_param(key)


def get_str(params: Mapping[str, Any], key: str, *, need: bool = False) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        if need:
            raise required(key)
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid string: {key}", param=key)
    return value


def get_int(params: Mapping[str, Any], key: str, *, need: bool = False) -> int | None:
    value = get_str(params, key, need=need)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise invalid(f"Invalid integer: {value}", param=key) from None


def get_bool(params: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = params.get(key)
    if value is None or value == "":
        return default
    if value in ("true", "false"):
        return bool(value == "true")
    raise invalid(f"Invalid boolean: {value}", param=key)


def get_dict(params: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = params.get(key)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid(f"Invalid object: {key}", param=key)
    return value


def get_list(params: Mapping[str, Any], key: str) -> list[Any]:
    value = params.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):  # `expand=x`: Stripe accepts a lone value as a one-element array
        return [value]
    if not isinstance(value, list):
        raise invalid(f"Invalid array: {key}", param=key)
    return value


def apply_metadata(obj: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any] | None:
    """Stripe's metadata update: keys merge, an empty value deletes a key, `metadata=""` clears all.
    Returns the previous metadata when it changed (for an event's previous_attributes)."""
    if "metadata" not in params:
        return None
    before = dict(obj.get("metadata") or {})
    value = params["metadata"]
    if value == "":
        obj["metadata"] = {}
    elif isinstance(value, dict):
        merged = dict(before)
        for k, v in value.items():
            if not isinstance(v, str):
                raise invalid(f"Invalid metadata value for {k}", param=f"metadata[{k}]")
            if v == "":
                merged.pop(k, None)
            else:
                merged[k] = v
        if len(merged) > 50:
            raise invalid("Metadata may have at most 50 keys.", param="metadata")
        obj["metadata"] = merged
    else:
        raise invalid("Invalid hash", param="metadata")
    return before if before != obj["metadata"] else None
