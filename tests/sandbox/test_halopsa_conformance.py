"""HaloPSA sandbox responses validated against Halo's own swagger (../shared/specs/halopsa/swagger.json).

The swagger's list operations declare no response schema, so each returned object is validated against
its component schema: InvoiceHeader (with InvoiceDetail lines and InvoicePayment_List payments), Area,
ContractHeader, InvoicePayment_List. The schemas forbid additional properties, so a misspelt or invented
field fails here. The 3.6 MB spec is loaded once per session.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openapi_core import OpenAPI
from openapi_core.validation.schemas import oas30_read_schema_validators_factory as read_validators
from openapi_core.validation.schemas import oas30_write_schema_validators_factory as write_validators

from sandbox.halopsa import HaloLimits, HaloState, bearer_client

# The specs live beside the repository (../shared/specs); HALOPSA_SWAGGER points elsewhere if needed.
SPEC = Path(
    os.environ.get("HALOPSA_SWAGGER", Path(__file__).resolve().parents[3] / "shared/specs/halopsa/swagger.json")
)
Validate = Callable[[str, Any], None]


@pytest.fixture(scope="session")
def halo_spec() -> OpenAPI:
    from openapi_core import Config

    if not SPEC.exists():
        pytest.skip(f"Halo swagger not found at {SPEC}")
    return OpenAPI.from_dict(json.loads(SPEC.read_text()), config=Config(spec_validator_cls=None))


@pytest.fixture(scope="session")
def conforms(halo_spec: OpenAPI) -> Validate:
    cache: dict[str, Any] = {}

    def check(schema: str, value: Any) -> None:
        if schema not in cache:
            cache[schema] = read_validators.create(halo_spec.spec, halo_spec.spec / "components" / "schemas" / schema)
        cache[schema].validate(value)

    return check


@pytest.fixture
def state() -> HaloState:
    s = HaloState()
    acme = s.create_client(
        "Acme Corp", paymentterms=30, accountsemailaddress="ap@acme.test", stripe_customer_id="cus_1"
    )
    s.create_contract(
        acme["id"],
        ref="MSA-1",
        start_date="2025-01-01",
        periodchargeamount=900,
        subtype=1,
        contracttype=2,
        contracttype_name="Managed",
        billingdescription=1,
        next_invoice_date="2025-02-01",
    )
    inv = s.create_invoice(
        acme["id"],
        contract_id=1,
        lines=[
            {
                "item_code": "MS",
                "item_shortdescription": "Managed",
                "qty_order": 2,
                "unit_price": 450,
                "tax_amount": 90,
                "tax_code": "TX",
                "nominal_code": "4000",
                "contract_id": 1,
            }
        ],
    )
    s.post_invoice(inv["id"])
    s.record_payment(inv["id"], 100, method=1, thirdpartyid="pi_123", intent_id="pi_123")
    s.seed(clients=5, invoices=20)
    return s


async def test_invoice_shapes(state: HaloState, conforms: Validate) -> None:
    async with bearer_client(state) as http:
        listed = (await http.get("/api/Invoice", params={"pageinate": "true", "includelines": "true"})).json()
        plain = (await http.get("/api/Invoice")).json()
        one = (await http.get("/api/Invoice/1", params={"includedetails": "true"})).json()
        posted = (
            await http.post("/api/Invoice", json=[{"client_id": 1, "lines": [{"qty_order": 1, "unit_price": 5}]}])
        ).json()
    assert one["lines"] and one["payments"] and listed["invoices"][0]["lines"]
    for invoice in [*listed["invoices"], *plain, one, posted]:
        conforms("InvoiceHeader", invoice)


async def test_client_contract_and_payment_shapes(state: HaloState, conforms: Validate) -> None:
    async with bearer_client(state) as http:
        clients = (await http.get("/api/Client", params={"includeinactive": "true"})).json()
        contracts = (
            await http.get("/api/ClientContract", params={"pageinate": "true", "includeinactive": "true"})
        ).json()
        payments = (await http.get("/api/InvoicePayment")).json()
        one_client = (await http.get("/api/Client/1")).json()
        one_payment = (await http.get("/api/InvoicePayment/1")).json()
    assert len(clients) == 6 and contracts["record_count"] == 6 and payments
    for client in [*clients, one_client]:
        conforms("Area", client)
    for contract in contracts["contracts"]:
        conforms("ContractHeader", contract)
    for payment in [*payments, one_payment]:
        conforms("InvoicePayment_List", payment)


def test_the_validator_is_not_a_rubber_stamp(conforms: Validate) -> None:
    """`subtotal` is not an InvoiceHeader property (net = total - tax_total), and date-times need an offset."""
    conforms("InvoiceHeader", {"id": 1, "total": 5.0, "duedate": "2025-01-01T00:00:00Z"})
    for bad in ({"id": 1, "subtotal": 5.0}, {"id": 1, "duedate": "2025-01-01T00:00:00"}, {"id": "1"}):
        with pytest.raises(Exception, match="not valid for schema"):
            conforms("InvoiceHeader", bad)


def test_naive_datetime_mode_is_a_known_departure_from_the_swagger(conforms: Validate) -> None:
    """Halo is believed to send offset-less times [U]; that mode exists for adapters and fails the schema."""
    state = HaloState(limits=HaloLimits(naive_datetimes=True))
    state.create_client("Acme")
    with pytest.raises(Exception, match="date-time"):
        conforms("InvoiceHeader", state.create_invoice(1))


async def test_swagger_valid_request_bodies_are_accepted(halo_spec: OpenAPI, state: HaloState) -> None:
    """What an adapter will send: valid against the swagger's write schemas, and taken by the sandbox."""
    schemas = halo_spec.spec / "components" / "schemas"
    bodies = [
        ("Area", "/api/Client", {"name": "Initech", "inactive": False, "accountsemailaddress": "ap@initech.test"}),
        (
            "ContractHeader",
            "/api/ClientContract",
            {"client_id": 1, "ref": "MSA-2", "periodchargeamount": 10.0, "subtype": 1, "active": True},
        ),
        (
            "InvoiceHeader",
            "/api/Invoice",
            {
                "client_id": 1,
                "duedate": "2025-04-01T00:00:00Z",
                "posted": True,
                "lines": [{"qty_order": 1.0, "unit_price": 5.0, "item_shortdescription": "x"}],
            },
        ),
        ("InvoiceHeader", "/api/Invoice", {"id": 1, "duedate": "2025-05-01T00:00:00Z"}),
        (
            "InvoicePayment_List",
            "/api/InvoicePayment",
            {"invoice_id": 1, "amount": 10.0, "date": "2025-04-02T00:00:00Z", "method": 1},
        ),
    ]
    async with bearer_client(state) as http:
        for schema, path, body in bodies:
            write_validators.create(halo_spec.spec, schemas / schema).validate(body)
            r = await http.post(path, json=[body])
            assert r.status_code == 200, (path, r.text)
