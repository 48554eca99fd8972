"""REST: /v1/agreements, the agreements (HaloPSA's contracts) the HaloPSA sync copies in. Read-only."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import Parameter

from adapters.db.uow import SqlUnitOfWork
from api.rest.clients import Cursor, Limit
from domain.agreements import Agreement, AgreementFilter, AgreementSubtype
from domain.auth import Principal
from domain.pagination import PageRequest
from domain.usecases import agreements as uc


class AgreementOut(msgspec.Struct):
    """`period_charge` is an integer in the minor unit of `currency`, the HaloPSA sync's currency (its
    settings), which the PSA's charge was converted in. `contract_billed`: its subtype is one the MSP chose
    in `PATCH /v1/halopsa/settings` (`contract_billed_subtypes`)."""

    id: uuid.UUID
    client_id: uuid.UUID
    source: str
    external_id: str
    reference: str | None
    type_name: str | None
    subtype: str
    start_date: date | None
    end_date: date | None
    active: bool
    billing_period: int | None
    period_charge: int
    currency: str
    contract_billed: bool
    created_at: datetime
    updated_at: datetime
    object: str = "agreement"

    @staticmethod
    def of(a: Agreement) -> AgreementOut:
        return AgreementOut(
            id=a.id,
            client_id=a.client_id,
            source=a.source,
            external_id=a.external_id,
            reference=a.reference,
            type_name=a.type_name,
            subtype=a.subtype,
            start_date=a.start_date,
            end_date=a.end_date,
            active=a.active,
            billing_period=a.billing_period,
            period_charge=a.period_charge,
            currency=a.currency,
            contract_billed=a.contract_billed,
            created_at=a.created_at,
            updated_at=a.updated_at,
        )


class AgreementList(msgspec.Struct):
    data: list[AgreementOut]
    has_more: bool
    next_cursor: str | None
    object: str = "list"


class AgreementSubtypeOut(msgspec.Struct):
    subtype: str
    type_names: list[str]
    agreements: int
    contract_billed: bool
    object: str = "agreement_subtype"

    @staticmethod
    def of(s: AgreementSubtype) -> AgreementSubtypeOut:
        return AgreementSubtypeOut(s.subtype, list(s.type_names), s.agreements, s.contract_billed)


class AgreementSubtypeList(msgspec.Struct):
    data: list[AgreementSubtypeOut]
    object: str = "list"


class AgreementController(Controller):
    path = "/v1/agreements"
    tags = ["agreements"]

    @get(
        "/subtypes",
        summary="List agreement subtypes",
        description="Every subtype the tenant's agreements have, with their type names and how many agreements "
        "have it, and whether it is contract-billed; a subtype chosen as contract-billed that no agreement has "
        "is listed with 0 agreements. What `contract_billed_subtypes` (PATCH /v1/halopsa/settings) is chosen "
        "from. Scope `clients:read`.",
    )
    async def list_subtypes(self, principal: Principal, uow: SqlUnitOfWork) -> AgreementSubtypeList:
        return AgreementSubtypeList([AgreementSubtypeOut.of(s) for s in await uc.list_subtypes(uow, principal)])

    @get("/{agreement_id:uuid}", summary="Get an agreement", description="Scope `clients:read`.")
    async def get_one(self, agreement_id: uuid.UUID, principal: Principal, uow: SqlUnitOfWork) -> AgreementOut:
        return AgreementOut.of(await uc.get_agreement(uow, principal, agreement_id))

    @get(
        "/",
        summary="List agreements",
        description="Agreements synced from HaloPSA, newest first, filtered. Scope `clients:read`.",
    )
    async def list_all(
        self,
        principal: Principal,
        uow: SqlUnitOfWork,
        limit: Limit = None,
        cursor: Cursor = None,
        client_id: uuid.UUID | None = None,
        active: Annotated[bool | None, Parameter(description="Only active (true) or inactive (false) ones.")] = None,
    ) -> AgreementList:
        where = AgreementFilter(client_id, active)
        page = await uc.list_agreements(uow, principal, where, PageRequest.build(limit, cursor))
        return AgreementList([AgreementOut.of(a) for a in page.items], page.has_more, page.next_cursor)
