"""The MSP's customers (HaloPSA calls them clients): who an invoice is billed to."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from domain.errors import Validator

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# US state or territory codes matter for surcharge law; other countries' regions are kept as given.
US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY "
    "NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI AS MP".split()
)


@dataclass(frozen=True)
class Address:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None  # for the US, the two-letter USPS code
    postal_code: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2


@dataclass
class Client:
    tenant_id: uuid.UUID
    id: uuid.UUID
    name: str
    billing_email: str | None
    address: Address
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NewClient:
    name: str
    billing_email: str | None = None
    address: Address = field(default_factory=Address)

    def validated(self) -> NewClient:
        v = Validator()
        name = self.name.strip()
        v.check(0 < len(name) <= 200, "name", "must be 1 to 200 characters")
        email = self.billing_email.strip() if self.billing_email else None
        if email is not None:
            v.check(len(email) <= 254 and bool(_EMAIL.match(email)), "billing_email", "is not an e-mail address")
        address = _normalised_address(self.address, v)
        v.raise_if_any()
        return NewClient(name, email, address)


def _normalised_address(a: Address, v: Validator) -> Address:
    country = a.country.strip().upper() if a.country else None
    state = a.state.strip() if a.state else None
    if country is not None:
        v.check(bool(_COUNTRY.match(country)), "address.country", "must be an ISO 3166-1 alpha-2 code")
    if country == "US" and state is not None:
        state = state.upper()
        v.check(state in US_STATES, "address.state", "must be a US state or territory code such as CA")
    for name in ("line1", "line2", "city", "postal_code"):
        value = getattr(a, name)
        v.check(value is None or len(value) <= 200, f"address.{name}", "must be at most 200 characters")
    return Address(a.line1, a.line2, a.city, state, a.postal_code, country)
