"""Every tenant-owned table: tenant_id first in the primary key, tenant-carrying foreign keys, RLS enabled
and forced with the tenant policy; the application role cannot bypass any of it."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.config import APP_ROLE
from adapters.db.tables import GLOBAL_TABLES, metadata
from tests.conftest import Api

POLICY = "(tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid)"


async def _tables(owner: AsyncEngine) -> list[str]:
    async with owner.connect() as conn:
        rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"))
        return [r[0] for r in rows]


async def test_every_table_is_tenant_scoped_or_allow_listed(owner: AsyncEngine) -> None:
    tables = await _tables(owner)
    assert set(GLOBAL_TABLES) <= set(tables)
    async with owner.connect() as conn:
        for table in tables:
            if table in GLOBAL_TABLES:
                continue
            pk = (
                await conn.execute(
                    text("""
                    SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i
                    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                    WHERE i.indrelid = CAST(:t AS regclass) AND i.indisprimary"""),
                    {"t": table},
                )
            ).scalar_one()
            assert pk[0] == "tenant_id", f"{table}: primary key {pk} must start with tenant_id"
            rls = (
                await conn.execute(
                    text("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                    {"t": table},
                )
            ).one()
            assert tuple(rls) == (True, True), f"{table}: RLS must be enabled and forced"
            policies = (
                await conn.execute(
                    text(
                        "SELECT qual, with_check, roles FROM pg_policies WHERE tablename = :t AND policyname = 'tenant_isolation'"
                    ),
                    {"t": table},
                )
            ).all()
            assert policies, f"{table}: no tenant_isolation policy"
            assert policies[0].qual == POLICY and policies[0].with_check == POLICY, table


async def test_foreign_keys_between_tenant_tables_carry_tenant_id(owner: AsyncEngine) -> None:
    async with owner.connect() as conn:
        rows = await conn.execute(
            text("""
            SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent,
                   (SELECT array_agg(attname) FROM pg_attribute WHERE attrelid = conrelid AND attnum = ANY(conkey)) AS cols
            FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace""")
        )
        fks = rows.all()
    assert fks
    for fk in fks:
        if fk.parent == "tenants":
            assert fk.cols == ["tenant_id"], fk
        else:
            assert "tenant_id" in fk.cols, f"{fk.child} -> {fk.parent} must include tenant_id"


async def test_app_role_is_not_privileged(owner: AsyncEngine) -> None:
    async with owner.connect() as conn:
        role = (
            await conn.execute(text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE})
        ).one()
        owned = (
            await conn.execute(
                text("SELECT count(*) FROM pg_tables WHERE schemaname='public' AND tableowner = :r"), {"r": APP_ROLE}
            )
        ).scalar_one()
    assert tuple(role) == (False, False)
    assert owned == 0


async def test_app_role_without_tenant_context_sees_nothing(
    engine: AsyncEngine, owner: AsyncEngine, tenant_a: Api, tenant_b: Api
) -> None:
    for api in (tenant_a, tenant_b):
        c = await api.new_client()
        await api.new_invoice(c["id"])
        await api.post("/v1/invoices/not-a-uuid/void")  # a failed request writes nothing either
    tables = [t for t in await _tables(owner) if t not in GLOBAL_TABLES]
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT current_user"))).scalar_one() == APP_ROLE
        for table in [*tables, "tenants"]:
            n = (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            assert n == 0, f"{table}: {n} rows visible without a tenant"
    async with owner.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM invoices"))).scalar_one() >= 2


async def test_tenant_context_shows_only_that_tenant(engine: AsyncEngine, tenant_a: Api, tenant_b: Api) -> None:
    c = await tenant_b.new_client()
    await tenant_b.new_invoice(c["id"])
    async with engine.begin() as conn:
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant_a.tenant_id)})
        others = (
            await conn.execute(text("SELECT count(*) FROM invoices WHERE tenant_id <> :t"), {"t": tenant_a.tenant_id})
        ).scalar_one()
        assert others == 0
        # and writing a row for another tenant is refused by the policy's WITH CHECK
        try:
            async with conn.begin_nested():
                await conn.execute(
                    text(
                        "INSERT INTO clients (tenant_id, id, name, created_at, updated_at) VALUES (:t, gen_random_uuid(), 'x', now(), now())"
                    ),
                    {"t": tenant_b.tenant_id},
                )
            raise AssertionError("insert for another tenant succeeded")
        except Exception as exc:
            assert "row-level security" in str(exc)


async def test_core_tables_match_the_migrated_schema(owner: AsyncEngine) -> None:
    async with owner.connect() as conn:
        rows = await conn.execute(
            text("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'")
        )
        db: dict[str, set[str]] = {}
        for t, c in rows:
            db.setdefault(t, set()).add(c)
    for table in metadata.sorted_tables:
        assert {c.name for c in table.columns} == db.get(table.name), table.name
