"""Xero sandbox against Xero's own OpenAPI documents (XeroAPI/Xero-OpenAPI, ../shared/specs/xero).

Every GET list the adapters use, the write bodies they send (PUT /Invoices, PUT /Payments, ...), the error
envelope, the identity token and /connections shapes and the webhook payload are validated with
openapi-core / openapi-schema-validator. The big accounting spec is loaded once per session.

Known, deliberate gaps between Xero's behaviour and its own schema, handled explicitly here:
- /connections and webhook timestamps have no zone (`2019-12-07T18:46:19.5165400`, `2024-06-21T01:15:39.902`,
  Xero's own examples) while the schema says `format: date-time`; the test asserts the raw shape, then
  validates with a `Z` appended.
- Intent-to-Receive probes carry sequence 0, below the schema's minimum of 1, as Xero sends them.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import httpx
import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator, OAS31Validator, oas30_format_checker, oas31_format_checker

from sandbox.xero.testing import ConnectedSandbox, connected_sandbox
from tests.specs import spec_file

pytestmark = pytest.mark.filterwarnings("ignore:Unsupported scheme type:UserWarning")  # OAuth2 isn't checked
API = "https://api.xero.com"


def _load(name: str) -> dict[str, Any]:
    return yaml.load(spec_file("xero", name).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@pytest.fixture(scope="session")
def accounting() -> OpenAPI:
    return OpenAPI.from_dict(_load("xero_accounting.yaml"), config=Config(spec_validator_cls=None))


@pytest.fixture(scope="session")
def identity() -> tuple[OpenAPI, dict[str, Any]]:
    raw = _load("xero-identity.yaml")
    return OpenAPI.from_dict(raw, config=Config(spec_validator_cls=None)), raw


@pytest.fixture
def xero() -> ConnectedSandbox:
    sandbox = connected_sandbox()
    s, org = sandbox.state, sandbox.org
    ann = s.add_contact(org, "Ann", email="ann@example.com", contact_number="C-1")
    inv = s.add_invoice(org, ann, "230.00", reference="PO-1")
    s.add_payment(org, inv, "30.00")
    s.add_invoice(org, ann, "10.00", status="DRAFT")
    return sandbox


def _mock_request(answer: httpx.Response) -> MockRequest:
    req = answer.request
    return MockRequest(
        API, req.method.lower(), req.url.path, args=dict(req.url.params), headers=dict(req.headers),
        data=req.content or None, content_type=req.headers.get("content-type", "application/json"),
    )  # fmt: skip


def _validate(spec: OpenAPI, answer: httpx.Response, body: bytes | None = None) -> None:
    """The request the sandbox accepted and the answer it gave, both against the spec."""
    request = _mock_request(answer)
    if answer.request.method in ("PUT", "POST"):
        spec.validate_request(request)
    spec.validate_response(request, MockResponse(body or answer.content, status_code=answer.status_code))


@pytest.mark.parametrize("resource", ["Invoices", "Payments", "Contacts", "Accounts", "BankTransactions"])
async def test_get_lists_match_the_spec(accounting: OpenAPI, xero: ConnectedSandbox, resource: str) -> None:
    await xero.put("BankTransactions", {"Type": "SPEND", "Contact": {"Name": "Stripe"}, "BankAccount": {"Code": "090"},
                                        "LineItems": [{"Description": "fees", "UnitAmount": 1.5, "AccountCode": "404"}]})  # fmt: skip
    answer = await xero.get(resource)
    assert answer.status_code == 200 and answer.json()[resource]
    _validate(accounting, answer)


async def test_the_validator_has_teeth(accounting: OpenAPI, xero: ConnectedSandbox) -> None:
    answer = await xero.get("Invoices")
    broken = copy.deepcopy(answer.json())
    broken["Invoices"][0]["Total"] = "a lot"
    with pytest.raises(Exception, match=r"not valid|InvalidData|Total"):
        _validate(accounting, answer, json.dumps(broken).encode())
    bad_body = {"Payments": [{"Invoice": {"InvoiceID": "x"}, "Account": {"Code": "090"}, "Amount": "lots"}]}
    refused = await xero.put("Payments", bad_body)
    assert refused.status_code == 400
    with pytest.raises(Exception):  # noqa: B017 - openapi-core raises its own wrapped validation error
        accounting.validate_request(_mock_request(refused))


async def test_writes_match_the_spec(accounting: OpenAPI, xero: ConnectedSandbox) -> None:
    contact_id = next(iter(xero.org.contacts))
    invoice = {"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": str(contact_id)}, "Date": "2019-03-11",
                             "DueDate": "2019-04-11", "Reference": "Website Design", "Status": "AUTHORISED",
                             "LineItems": [{"Description": "Acme Tires", "Quantity": 2, "UnitAmount": 20,
                                            "AccountCode": "200", "TaxType": "NONE", "LineAmount": 40}]}]}  # fmt: skip
    made = await xero.put("Invoices", invoice)
    assert made.status_code == 200, made.text
    _validate(accounting, made)
    invoice_id = made.json()["Invoices"][0]["InvoiceID"]
    payment = {
        "Payments": [
            {
                "Invoice": {"LineItems": [], "InvoiceID": invoice_id},
                "Account": {"Code": "970"},
                "Date": "2019-03-12",
                "Amount": 1,
            }
        ]
    }  # fmt: skip (the spec's own example)
    paid = await xero.put("Payments", payment)
    assert paid.status_code == 200, paid.text
    _validate(accounting, paid)
    deleted = await xero.post(f"Payments/{paid.json()['Payments'][0]['PaymentID']}", {"Status": "DELETED"})
    _validate(accounting, deleted)
    one = await xero.get(f"Invoices/{invoice_id}")
    _validate(accounting, one)
    refused = await xero.put("Invoices", invoice)  # same ContactID, auto number: fine; force a duplicate number
    dup = await xero.put(
        "Invoices",
        {"Invoices": [{**invoice["Invoices"][0], "InvoiceNumber": refused.json()["Invoices"][0]["InvoiceNumber"]}]},
    )
    assert dup.status_code == 400
    _validate(accounting, dup)
    account = await xero.put(
        "Accounts", {"Code": "123456", "Name": "Foobar", "Type": "EXPENSE", "Description": "Hello World"}
    )
    assert account.status_code == 200
    _validate(accounting, account)
    contact = await xero.put("Contacts", {"Contacts": [{"Name": "Buzz Lightyear", "EmailAddress": "buzz@example.com"}]})
    _validate(accounting, contact)
    spend = {
        "BankTransactions": [
            {
                "Type": "SPEND",
                "Contact": {"ContactID": str(contact_id)},
                "BankAccount": {"Code": "090"},
                "LineItems": [{"Description": "Foobar", "Quantity": 1, "UnitAmount": 20, "AccountCode": "404"}],
            }
        ]
    }
    made_bt = await xero.put("BankTransactions", spend)
    assert made_bt.status_code == 200, made_bt.text
    _validate(accounting, made_bt)


def _zoned(value: str, pattern: str) -> str:
    assert re.fullmatch(pattern, value), value  # Xero's zone-less shape, kept on purpose
    return value + "Z"


async def test_token_and_connections_match_the_identity_spec(identity, xero: ConnectedSandbox) -> None:
    api, raw = identity
    token_schema = raw["components"]["schemas"]["AccessToken"]
    OAS30Validator(token_schema, format_checker=oas30_format_checker).validate(xero.tokens)
    assert set(token_schema["properties"]) <= set(xero.tokens) | {"id_token"}
    answer = await xero.http.get("/connections", headers={"authorization": f"Bearer {xero.tokens['access_token']}"})
    rows = answer.json()
    for row in rows:
        for key in ("createdDateUtc", "updatedDateUtc"):
            row[key] = _zoned(row[key], r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}")
    request = MockRequest(API, "get", "/Connections", headers=dict(answer.request.headers))
    api.validate_response(request, MockResponse(json.dumps(rows).encode()))
    assert rows and set(rows[0]) == {"id", "authEventId", "tenantId", "tenantType", "tenantName", "createdDateUtc",
                                     "updatedDateUtc"}  # fmt: skip


async def test_webhook_payload_matches_the_webhooks_spec(xero: ConnectedSandbox) -> None:
    schema = _load("xero-webhooks.yaml")["components"]["schemas"]["WebhookEvent"]
    sub = xero.state.subscribe_webhooks(xero.app, "https://receiver.example.com/hook")
    await xero.put("Contacts", {"Name": "Webhook Co"})
    captured: list[bytes] = []

    async def receiver(request: httpx.Request) -> httpx.Response:
        captured.append(request.content)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as http:
        await xero.state.deliver_webhooks(http)
    doc = json.loads(captured[0])
    for event in doc["events"]:
        event["eventDateUtc"] = _zoned(event["eventDateUtc"], r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}")
    OAS31Validator(schema, format_checker=oas31_format_checker).validate(doc)
    doc["events"][0]["eventType"] = "DELETE"
    with pytest.raises(Exception, match="DELETE"):
        OAS31Validator(schema, format_checker=oas31_format_checker).validate(doc)
    assert sub.key
