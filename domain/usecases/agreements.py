"""Use cases for agreements: read, list, and the subtypes an MSP chooses contract-billed ones from.

Every answer is read under the HaloPSA sync settings (`contract_billed_subtypes`, `currency`), from the
same transaction; without a HaloPSA connection the defaults apply (nothing is contract-billed).
"""

from __future__ import annotations

import uuid

from domain.agreements import Agreement, AgreementFilter, AgreementSubtype, subtype_summary, with_settings
from domain.auth import Principal, Scope
from domain.connections import Provider
from domain.errors import NotFound
from domain.halosync.settings import SyncSettings
from domain.pagination import Page, PageRequest
from domain.ports import AgreementsUnitOfWork
from domain.usecases.halosync import settings_of


async def _settings(uow: AgreementsUnitOfWork) -> SyncSettings:
    connection = await uow.connections.by_provider(Provider.HALOPSA)
    return settings_of(connection) if connection is not None else SyncSettings()


async def get_agreement(uow: AgreementsUnitOfWork, principal: Principal, agreement_id: uuid.UUID) -> Agreement:
    principal.require(Scope.CLIENTS_READ)
    agreement = await uow.agreements.get(agreement_id)
    if agreement is None:
        raise NotFound("agreement", agreement_id)
    settings = await _settings(uow)
    return agreement.under(settings.contract_billed_subtypes, settings.currency)


async def list_agreements(
    uow: AgreementsUnitOfWork, principal: Principal, where: AgreementFilter, page: PageRequest
) -> Page[Agreement]:
    principal.require(Scope.CLIENTS_READ)
    found = await uow.agreements.list_page(where, page)
    settings = await _settings(uow)
    items = with_settings(found.items, settings.contract_billed_subtypes, settings.currency)
    return Page(items, found.has_more, found.next_cursor)


async def list_subtypes(uow: AgreementsUnitOfWork, principal: Principal) -> list[AgreementSubtype]:
    principal.require(Scope.CLIENTS_READ)
    counts = await uow.agreements.subtype_counts()
    return subtype_summary(counts, (await _settings(uow)).contract_billed_subtypes)
