"""GraphQL for agreements (HaloPSA's contracts, copied in by the HaloPSA sync): the same use cases as REST
(domain/usecases/agreements.py). Read-only."""

# strawberry.field(...) with arguments is typed as returning Any; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import datetime as dt

import strawberry

from api.graphql.context import Info
from api.graphql.inputs import lookup_id, parse_id
from api.graphql.resolving import page_request, read
from api.graphql.scalars import MinorUnits
from api.graphql.types import Client, Connection, Money, connection_of
from domain import errors
from domain.agreements import Agreement as AgreementEntity
from domain.agreements import AgreementFilter
from domain.agreements import AgreementSubtype as AgreementSubtypeEntity
from domain.usecases import agreements as uc


@strawberry.type(description="An agreement (a contract in HaloPSA) copied in by the HaloPSA sync.")
class Agreement:
    id: strawberry.ID
    source: str = strawberry.field(description="Where the agreement comes from: halopsa.")
    external_id: str = strawberry.field(description="The PSA's own id of the agreement.")
    reference: str | None
    type_name: str | None = strawberry.field(description="The agreement type's name in the PSA.")
    subtype: str = strawberry.field(description="What contract-billed subtypes are chosen by.")
    start_date: dt.date | None
    end_date: dt.date | None
    active: bool
    billing_period: int | None = strawberry.field(description="The PSA's billing period code, as given.")
    period_charge: Money = strawberry.field(
        description="The charge per billing period, in the HaloPSA sync's currency (its settings)."
    )
    contract_billed: bool = strawberry.field(
        description="Its subtype is one the MSP chose as contract-billed (`contractBilledSubtypes`)."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    entity: strawberry.Private[AgreementEntity]

    @strawberry.field(graphql_type=Client, description="Whose agreement it is (batched per request).")
    async def client(self, info: Info) -> Client:
        # No scope check of its own: agreements are read with clients:read, the scope clients need.
        found = await info.context.client_loader.load(self.entity.client_id)
        assert found is not None, "agreements reference their tenant's clients by foreign key"
        return Client.of(found)

    @staticmethod
    def of(a: AgreementEntity) -> Agreement:
        return Agreement(
            id=strawberry.ID(str(a.id)),
            source=a.source,
            external_id=a.external_id,
            reference=a.reference,
            type_name=a.type_name,
            subtype=a.subtype,
            start_date=a.start_date,
            end_date=a.end_date,
            active=a.active,
            billing_period=a.billing_period,
            period_charge=Money(amount=MinorUnits(a.period_charge), currency=a.currency),
            contract_billed=a.contract_billed,
            created_at=a.created_at,
            updated_at=a.updated_at,
            entity=a,
        )


@strawberry.type(description="An agreement subtype: what contract-billed subtypes are chosen from.")
class AgreementSubtype:
    subtype: str
    type_names: list[str] = strawberry.field(description="The type names of the agreements with this subtype.")
    agreements: int = strawberry.field(description="How many agreements have it (0: chosen, but none has it).")
    contract_billed: bool

    @staticmethod
    def of(s: AgreementSubtypeEntity) -> AgreementSubtype:
        return AgreementSubtype(
            subtype=s.subtype, type_names=list(s.type_names), agreements=s.agreements, contract_billed=s.contract_billed
        )


@strawberry.type
class AgreementQuery:
    @strawberry.field(description="Agreements synced from HaloPSA, newest first, filtered. Scope clients:read.")
    async def agreements(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        client_id: strawberry.ID | None = None,
        active: bool | None = None,
    ) -> Connection[Agreement]:
        async def run() -> Connection[Agreement]:
            where = AgreementFilter(parse_id(client_id, "clientId") if client_id else None, active)
            async with info.context.uow() as uow:
                page = await uc.list_agreements(uow, info.context.principal, where, page_request(first, after))
            return connection_of(page, Agreement.of)

        return await read(run)

    @strawberry.field(description="One agreement, or null when there is none with this id. Scope clients:read.")
    async def agreement(self, info: Info, id: strawberry.ID) -> Agreement | None:
        async def run() -> Agreement | None:
            try:
                async with info.context.uow() as uow:
                    return Agreement.of(await uc.get_agreement(uow, info.context.principal, lookup_id(id)))
            except errors.NotFound:
                return None

        return await read(run)

    @strawberry.field(
        description="The subtypes the agreements have (and any chosen as contract-billed), with their type "
        "names and counts. Scope clients:read."
    )
    async def agreement_subtypes(self, info: Info) -> list[AgreementSubtype]:
        async def run() -> list[AgreementSubtype]:
            async with info.context.uow() as uow:
                return [AgreementSubtype.of(s) for s in await uc.list_subtypes(uow, info.context.principal)]

        return await read(run)
