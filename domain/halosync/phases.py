"""How each resource of a run is read: its query (order, filters), where an incremental read stops, and the
watermark a run leaves for the next one (domain/halosync/engine.py pages through them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from domain.halopsa import HaloResource
from domain.halosync.records import BadRecord, instant_of
from domain.halosync.runs import SyncMode


@dataclass
class Phase:
    resource: HaloResource
    params: dict[str, str]
    stop_before: str | None = None  # incremental: stop once a page reaches back past this watermark
    record_key: str = "last_modified"  # what the watermark compares, in each record
    step_backs: int = 0
    previous_ids: list[Any] = field(default_factory=list)


MODIFIED = {
    HaloResource.CLIENTS: "alastupdate",  # Halo's Area has no last_modified
    HaloResource.AGREEMENTS: "last_modified",
    HaloResource.INVOICES: "last_modified",
}


def phase_for(resource: HaloResource, mode: SyncMode, watermarks: dict[str, str], overlap: timedelta) -> Phase | None:
    params = {"includeinactive": "true"} if resource in (HaloResource.CLIENTS, HaloResource.AGREEMENTS) else {}
    if resource is HaloResource.INVOICES:
        params["includelines"] = "true"
    if mode is SyncMode.UNPAID:
        if resource is not HaloResource.INVOICES:
            return None if resource is HaloResource.PAYMENTS else Phase(resource, {**params, "order": "id"})
        return Phase(resource, {**params, "paymentstatuses": "0,1", "order": "id"})
    mark = watermarks.get(resource.value) if mode is SyncMode.INCREMENTAL else None
    if mark is None:
        return Phase(resource, {**params, "order": "id"})
    if resource is HaloResource.PAYMENTS:
        return Phase(resource, {**params, "order": "id", "orderdesc": "true"}, stop_before=mark, record_key="id")
    key = MODIFIED[resource]
    since = (instant_of(mark, "watermark") - overlap).isoformat()
    return Phase(resource, {**params, "order": key, "orderdesc": "true"}, stop_before=since, record_key=key)


def reached_watermark(phase: Phase, records: list[dict[str, Any]]) -> bool:
    if phase.stop_before is None or not records:
        return False
    last = records[-1].get(phase.record_key)
    if phase.record_key == "id":
        return isinstance(last, int) and last <= int(phase.stop_before)
    try:
        return last is None or instant_of(last, phase.record_key) < instant_of(phase.stop_before, "watermark")
    except BadRecord:
        return False


def newest(resource: HaloResource, records: list[dict[str, Any]], current: str | None) -> str | None:
    key = "id" if resource is HaloResource.PAYMENTS else MODIFIED.get(resource, "last_modified")
    best = current
    for r in records:
        value = r.get(key)
        if value is None:
            continue
        if key == "id":
            if isinstance(value, int) and (best is None or value > int(best)):
                best = str(value)
            continue
        try:
            stamp = instant_of(value, key).isoformat()
        except BadRecord:
            continue
        if best is None or stamp > best:
            best = stamp
    return best
