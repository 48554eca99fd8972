"""Surcharge compliance, row by row against domain.md §3, against no database."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.clients import Address, Client
from domain.errors import ValidationFailed
from domain.money import MAX_MINOR
from domain.surcharge import (
    CardFacts,
    Payer,
    SurchargeNotAllowed,
    SurchargePolicy,
    SurchargeReason,
    decide,
)
from domain.surcharge_disclosure import disclosure_text
from domain.surcharge_receipts import ReceiptLine, receipt_lines

R = SurchargeReason
TODAY = date(2026, 6, 1)
EXEMPT_CLIENT = uuid.UUID(int=7)
# The MSP asks 3%; processing costs it 3.5% (cost of acceptance not binding unless a row lowers it).
POLICY = SurchargePolicy(
    enabled=True,
    rate_bps=300,
    cost_of_acceptance_bps=350,
    notice_given_on=TODAY - timedelta(days=60),
    exempt_client_ids=frozenset({EXEMPT_CLIENT}),
)
VISA = CardFacts("visa", "credit")
MASTERCARD = CardFacts("mastercard", "credit")
AMEX = CardFacts("amex", "credit")
DISCOVER = CardFacts("discover", "credit")
NJ = Payer("US", "NJ")


def _p(**changes: object) -> SurchargePolicy:
    return replace(POLICY, **changes)  # type: ignore[arg-type]


# (domain.md §3 row, policy, card (None: ACH), payer, amount in cents, expected surcharge, expected reason)
TABLE = [
    # Visa cap: lower of the merchant discount rate and 3%; Canada 2.4%
    ("visa_cap_3pct", _p(rate_bps=400), VISA, NJ, 10_000, 300, R.CAPPED_BY_BRAND),
    ("visa_at_3pct", POLICY, VISA, NJ, 10_000, 300, R.OK),
    ("visa_merchant_discount_rate_lower", _p(cost_of_acceptance_bps=250), VISA, NJ, 10_000, 250, R.CAPPED_BY_COST),
    ("visa_canada_payer_2_4pct", POLICY, VISA, Payer("CA", "ON"), 10_000, 240, R.CAPPED_BY_BRAND),
    ("visa_canada_merchant_2_4pct", _p(merchant_country="CA"), VISA, NJ, 10_000, 240, R.CAPPED_BY_BRAND),
    # Mastercard cap: cost of acceptance, at most 4%
    ("mastercard_4pct", _p(rate_bps=400, cost_of_acceptance_bps=450), MASTERCARD, NJ, 10_000, 400, R.OK),
    ("mastercard_above_4pct", _p(rate_bps=400, cost_of_acceptance_bps=450), MASTERCARD, NJ, 20_000, 800, R.OK),
    (
        "mastercard_cost_lower",
        _p(rate_bps=400, cost_of_acceptance_bps=320),
        MASTERCARD,
        NJ,
        10_000,
        320,
        R.CAPPED_BY_COST,
    ),
    # card types: credit only, never debit or prepaid, even when run as credit
    ("debit_never", POLICY, CardFacts("visa", "debit"), NJ, 10_000, 0, R.DEBIT_CARD),
    ("prepaid_never", POLICY, CardFacts("mastercard", "prepaid"), NJ, 10_000, 0, R.PREPAID_CARD),
    ("unknown_funding_never", POLICY, CardFacts("visa", "unknown"), NJ, 10_000, 0, R.UNKNOWN_FUNDING),
    # notice: tell the acquirer 30 days before starting
    ("notice_29_days_ago", _p(notice_given_on=TODAY - timedelta(days=29)), VISA, NJ, 10_000, 0, R.NOTICE_PERIOD),
    ("notice_30_days_ago", _p(notice_given_on=TODAY - timedelta(days=30)), VISA, NJ, 10_000, 300, R.OK),
    # Amex: its surcharge may not exceed the surcharge on other card brands
    ("amex_not_above_others", _p(rate_bps=400, cost_of_acceptance_bps=450), AMEX, NJ, 10_000, 300, R.CAPPED_BY_BRAND),
    ("amex_not_above_others_canada", _p(rate_bps=400), AMEX, Payer("CA", "BC"), 10_000, 240, R.CAPPED_BY_BRAND),
    ("amex_within_others", POLICY, AMEX, NJ, 10_000, 300, R.OK),
    ("discover_like_visa", _p(rate_bps=400, cost_of_acceptance_bps=450), DISCOVER, NJ, 10_000, 300, R.CAPPED_BY_BRAND),
    # prohibited: CT, ME, MA, OK (contested: until legal sign-off), PR
    ("prohibited_ct", POLICY, VISA, Payer("US", "CT"), 10_000, 0, R.STATE_PROHIBITED),
    ("prohibited_me", POLICY, VISA, Payer("US", "ME"), 10_000, 0, R.STATE_PROHIBITED),
    ("prohibited_ma", POLICY, VISA, Payer("US", "MA"), 10_000, 0, R.STATE_PROHIBITED),
    ("prohibited_ok", POLICY, VISA, Payer("US", "OK"), 10_000, 0, R.STATE_PROHIBITED),
    ("prohibited_pr", POLICY, VISA, Payer("US", "PR"), 10_000, 0, R.STATE_PROHIBITED),
    ("prohibited_pr_as_country", POLICY, VISA, Payer("PR", None), 10_000, 0, R.STATE_PROHIBITED),
    ("prohibited_lowercase_state", POLICY, VISA, Payer("us", " ct "), 10_000, 0, R.STATE_PROHIBITED),
    ("ok_override_with_sign_off", _p(oklahoma_override=True), VISA, Payer("US", "OK"), 10_000, 300, R.OK),
    ("override_is_oklahoma_only", _p(oklahoma_override=True), VISA, Payer("US", "CT"), 10_000, 0, R.STATE_PROHIBITED),
    # Colorado: at most 2% (or the merchant fee if lower)
    ("colorado_2pct", POLICY, VISA, Payer("US", "CO"), 10_000, 200, R.CAPPED_BY_STATE),
    ("colorado_fee_lower", _p(cost_of_acceptance_bps=150), VISA, Payer("US", "CO"), 10_000, 150, R.CAPPED_BY_COST),
    ("colorado_below_cap", _p(rate_bps=180), MASTERCARD, Payer("US", "CO"), 10_000, 180, R.OK),
    # New York: surcharge at most the card company's charge
    ("new_york_cost", _p(cost_of_acceptance_bps=275), VISA, Payer("US", "NY"), 10_000, 275, R.CAPPED_BY_COST),
    # California: sources conflict, explicit tenant opt-in
    ("california_without_opt_in", POLICY, VISA, Payer("US", "CA"), 10_000, 0, R.STATE_OPT_IN_REQUIRED),
    ("california_with_opt_in", _p(california_opt_in=True), VISA, Payer("US", "CA"), 10_000, 300, R.OK),
    # B2B: business payers are not exempt; the payer's state law applies
    ("b2b_not_exempt", POLICY, VISA, Payer("US", "TX", business=True), 10_000, 300, R.OK),
    ("b2b_state_law_applies", POLICY, VISA, Payer("US", "CT", business=True), 10_000, 0, R.STATE_PROHIBITED),
    # pass-through trap: 2.9% + $0.30 exceeds 3% under about $300: cap per transaction
    (
        "pass_through_small_invoice",
        _p(rate_bps=290, fixed_minor=30, cost_of_acceptance_bps=290, cost_of_acceptance_fixed_minor=30),
        VISA,
        NJ,
        5_000,
        150,
        R.CAPPED_BY_BRAND,
    ),
    (
        "pass_through_large_invoice",
        _p(rate_bps=290, fixed_minor=30, cost_of_acceptance_bps=290, cost_of_acceptance_fixed_minor=30),
        VISA,
        NJ,
        100_000,
        2_930,
        R.OK,
    ),
    (
        "pass_through_fixed_part_not_covered_by_cost",
        _p(rate_bps=290, fixed_minor=30, cost_of_acceptance_bps=290),
        MASTERCARD,
        NJ,
        100_000,
        2_900,
        R.CAPPED_BY_COST,
    ),
    # ACH carries no surcharge
    ("ach_never", POLICY, None, NJ, 10_000, 0, R.ACH),
    ("ach_never_even_when_off", SurchargePolicy(), None, NJ, 10_000, 0, R.ACH),
    # tenant opt-in and per-client exemptions
    ("not_enabled", SurchargePolicy(), VISA, NJ, 10_000, 0, R.NOT_ENABLED),
    ("client_exempt_by_policy", POLICY, VISA, Payer("US", "NJ", client_id=EXEMPT_CLIENT), 10_000, 0, R.CLIENT_EXEMPT),
    ("client_exempt_for_payment", POLICY, VISA, Payer("US", "NJ", exempt=True), 10_000, 0, R.CLIENT_EXEMPT),
    ("other_client_not_exempt", POLICY, VISA, Payer("US", "NJ", client_id=uuid.UUID(int=8)), 10_000, 300, R.OK),
    # law not encoded: no surcharge
    ("quebec_prohibited", POLICY, VISA, Payer("CA", "Québec"), 10_000, 0, R.STATE_PROHIBITED),
    ("us_state_unknown", POLICY, VISA, Payer("US", None), 10_000, 0, R.LOCATION_UNKNOWN),
    ("country_unknown", POLICY, VISA, Payer(None, "NJ"), 10_000, 0, R.LOCATION_UNKNOWN),
    ("country_not_supported", POLICY, VISA, Payer("GB", None), 10_000, 0, R.COUNTRY_NOT_SUPPORTED),
]


@pytest.mark.parametrize(
    ("policy", "card", "payer", "amount", "surcharge", "reason"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_rule_table(
    policy: SurchargePolicy, card: CardFacts | None, payer: Payer, amount: int, surcharge: int, reason: R
) -> None:
    d = decide(policy, card, payer, amount, "USD", on=TODAY)
    assert (d.amount, d.reason) == (surcharge, reason)
    assert d.base_amount == amount and d.total == amount + surcharge and d.currency == "USD"
    assert d.message
    assert d.reason.surcharges == (reason in {R.OK, R.CAPPED_BY_BRAND, R.CAPPED_BY_COST, R.CAPPED_BY_STATE})


def test_amex_never_above_any_other_brand_under_the_same_policy() -> None:
    for policy in (POLICY, _p(rate_bps=400, cost_of_acceptance_bps=450), _p(merchant_country="CA")):
        for payer in (NJ, Payer("US", "CO"), Payer("CA", "ON")):
            for amount in (1, 99, 5_000, 123_457):
                amex = decide(policy, AMEX, payer, amount, "USD", on=TODAY).amount
                others = [
                    decide(policy, c, payer, amount, "USD", on=TODAY).amount for c in (VISA, MASTERCARD, DISCOVER)
                ]
                assert amex <= min(others)


def test_brand_names_are_read_loosely() -> None:
    policy = _p(rate_bps=400, cost_of_acceptance_bps=450)
    assert decide(policy, CardFacts("American_Express", "Credit"), NJ, 10_000, "USD", on=TODAY).amount == 300
    assert decide(policy, CardFacts("MasterCard", "CREDIT"), NJ, 10_000, "USD", on=TODAY).amount == 400
    assert decide(policy, CardFacts("unknown", "credit"), NJ, 10_000, "USD", on=TODAY).amount == 300


def test_requested_surcharge_rounds_half_up() -> None:
    policy = _p(rate_bps=250)
    assert decide(policy, VISA, NJ, 1_010, "USD", on=TODAY).amount == 25  # 25.25
    assert decide(policy, VISA, NJ, 1_020, "USD", on=TODAY).amount == 26  # 25.5
    assert decide(policy, VISA, NJ, 1, "USD", on=TODAY).amount == 0  # 0.025


def test_caps_round_down_so_no_cap_is_ever_exceeded() -> None:
    # 3% of 1,050 is 31.5: half-up would charge 32, above Visa's cap. The rate equals the cap, so reason stays ok.
    d = decide(POLICY, VISA, NJ, 1_050, "USD", on=TODAY)
    assert (d.amount, d.reason) == (31, R.OK)
    d = decide(POLICY, VISA, Payer("US", "CO"), 1_050, "USD", on=TODAY)  # 2% = 21 exactly
    assert (d.amount, d.reason) == (21, R.CAPPED_BY_STATE)
    d = decide(POLICY, VISA, Payer("US", "CO"), 1_075, "USD", on=TODAY)  # 2% = 21.5 -> 21
    assert d.amount == 21


def test_zero_amount() -> None:
    d = decide(_p(fixed_minor=30, cost_of_acceptance_fixed_minor=30), VISA, NJ, 0, "USD", on=TODAY)
    assert (d.amount, d.total, d.reason) == (0, 0, R.OK)
    assert receipt_lines(d) == [
        ReceiptLine("payment", "Invoice payment", 0, "USD"),
        ReceiptLine("total", "Total charged", 0, "USD"),
    ]


def test_huge_amounts_within_max_minor() -> None:
    d = decide(_p(rate_bps=400, cost_of_acceptance_bps=450), MASTERCARD, NJ, MAX_MINOR, "USD", on=TODAY)
    assert d.amount == MAX_MINOR * 4 // 100
    assert decide(POLICY, VISA, NJ, MAX_MINOR - 1, "USD", on=TODAY).amount == (MAX_MINOR - 1) * 3 // 100


@pytest.mark.parametrize(
    ("amount", "currency", "field"),
    [(MAX_MINOR + 1, "USD", "amount"), (-1, "USD", "amount"), (100, "XXX", "currency"), (100, "usdd", "currency")],
)
def test_bad_amounts_and_currencies_are_refused(amount: int, currency: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as e:
        decide(POLICY, VISA, NJ, amount, currency, on=TODAY)
    assert [err.field for err in e.value.errors] == [field]


def test_currency_exponent_jpy() -> None:
    # Percentages work in any currency's minor units; JPY has none below the yen.
    assert decide(POLICY, VISA, NJ, 10_000, "jpy", on=TODAY).amount == 300  # JPY 10,000 -> JPY 300
    d = decide(POLICY, VISA, NJ, 1_050, "JPY", on=TODAY)
    assert (d.amount, d.currency) == (31, "JPY")
    # The fixed parts are in the policy's currency (USD cents): a JPY payment gets the percentage only.
    usd_fixed = _p(rate_bps=200, fixed_minor=30, cost_of_acceptance_fixed_minor=30)
    assert decide(usd_fixed, VISA, NJ, 10_000, "JPY", on=TODAY).amount == 200
    assert decide(usd_fixed, VISA, NJ, 10_000, "USD", on=TODAY).amount == 230
    jpy_fixed = _p(rate_bps=200, fixed_minor=40, cost_of_acceptance_fixed_minor=40, currency="JPY")
    assert decide(jpy_fixed, VISA, NJ, 10_000, "JPY", on=TODAY).amount == 240
    assert decide(jpy_fixed, VISA, NJ, 10_000, "USD", on=TODAY).amount == 200


def test_payer_from_client_address() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    client = Client(uuid.uuid4(), EXEMPT_CLIENT, "Acme", None, Address(state="CO", country="US"), now, now)
    assert Payer.of(client) == Payer("US", "CO", EXEMPT_CLIENT)
    assert decide(POLICY, VISA, Payer.of(client), 10_000, "USD", on=TODAY).reason is R.CLIENT_EXEMPT


def test_refused_surcharge_raises_when_asked_for() -> None:
    with pytest.raises(SurchargeNotAllowed) as e:
        decide(POLICY, CardFacts("visa", "debit"), NJ, 10_000, "USD", on=TODAY).raise_if_refused()
    assert e.value.reason is R.DEBIT_CARD and e.value.code == "surcharge_not_allowed"
    with pytest.raises(SurchargeNotAllowed):
        decide(POLICY, VISA, Payer("US", "CT"), 10_000, "USD", on=TODAY).raise_if_refused()
    decide(POLICY, VISA, Payer("US", "CO"), 10_000, "USD", on=TODAY).raise_if_refused()  # capped, still allowed


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"rate_bps": 401}, ["rate_bps"]),
        ({"rate_bps": -1}, ["rate_bps"]),
        ({"rate_bps": 0}, ["rate_bps"]),
        ({"cost_of_acceptance_bps": 0}, ["cost_of_acceptance_bps"]),
        ({"notice_given_on": None}, ["notice_given_on"]),
        ({"fixed_minor": -1}, ["fixed_minor"]),
        ({"currency": "ZZZ"}, ["currency"]),
        ({"merchant_country": "USA"}, ["merchant_country"]),
    ],
)
def test_policy_validation(changes: dict[str, object], fields: list[str]) -> None:
    with pytest.raises(ValidationFailed) as e:
        _p(**changes).validated()
    assert {err.field for err in e.value.errors} == set(fields)


def test_policy_defaults_are_off_and_valid() -> None:
    assert SurchargePolicy().validated() == SurchargePolicy()
    assert _p(rate_bps=0, fixed_minor=50).validated().fixed_minor == 50  # a flat surcharge is allowed
    assert _p(currency="cad", merchant_country="ca").validated().currency == "CAD"
    assert POLICY.starts_on == TODAY - timedelta(days=30)


# --- disclosure -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "payer"),
    [
        pytest.param(SurchargePolicy(), NJ, id="not_enabled"),
        pytest.param(_p(notice_given_on=TODAY - timedelta(days=1)), NJ, id="notice_period"),
        pytest.param(POLICY, Payer("US", "CT"), id="prohibited_state"),
        pytest.param(POLICY, Payer("US", "OK"), id="oklahoma"),
        pytest.param(POLICY, Payer("US", "CA"), id="california_without_opt_in"),
        pytest.param(POLICY, Payer("US", "NJ", client_id=EXEMPT_CLIENT), id="exempt_client"),
        pytest.param(POLICY, Payer("DE", None), id="country_not_supported"),
    ],
)
def test_no_disclosure_where_no_surcharge_can_apply(policy: SurchargePolicy, payer: Payer) -> None:
    assert disclosure_text(policy, payer, on=TODAY) is None


def test_disclosure_before_payment() -> None:
    text = disclosure_text(POLICY, NJ, on=TODAY, brand="visa")
    assert text is not None
    assert "Paying by credit card (Visa) adds a surcharge of 3% of the amount." in text
    assert "debit cards, prepaid cards and bank payments (ACH) are never surcharged" in text
    assert "never more than what accepting the card costs us" in text
    assert "Colorado" not in text and "total price" not in text


def test_disclosure_without_brand_states_the_highest_rate() -> None:
    policy = _p(rate_bps=400, cost_of_acceptance_bps=450)
    assert "surcharge of up to 4% of the amount" in (disclosure_text(policy, NJ, on=TODAY) or "")
    assert "(American Express) adds a surcharge of 3% " in (disclosure_text(policy, NJ, on=TODAY, brand="amex") or "")
    assert "up to 2.4% " in (disclosure_text(policy, Payer("CA", "ON"), on=TODAY) or "")
    assert "up to 3.5% " in (disclosure_text(_p(rate_bps=400), NJ, on=TODAY) or "")  # cost of acceptance


def test_disclosure_with_a_fixed_part() -> None:
    policy = _p(rate_bps=290, fixed_minor=30, cost_of_acceptance_bps=290, cost_of_acceptance_fixed_minor=30)
    text = disclosure_text(policy, NJ, on=TODAY, brand="visa") or ""
    assert "adds a surcharge of 2.9% plus USD 0.30, never more than 3% of the amount." in text


def test_disclosure_with_amount_shows_the_total_card_price() -> None:
    # 3% of 1,234.56 is 37.0368: at the cap it rounds down, never above 3%.
    text = disclosure_text(POLICY, Payer("US", "NY"), on=TODAY, brand="visa", amount_minor=123_456, currency="USD")
    assert text is not None
    assert (
        "On this payment of USD 1,234.56 the surcharge is USD 37.03: the total price by credit card is USD 1,271.59."
        in text
    )
    text = disclosure_text(_p(rate_bps=400, cost_of_acceptance_bps=450), NJ, on=TODAY, amount_minor=10_000) or ""
    assert "the surcharge is at most USD 4.00: the total price by credit card is at most USD 104.00." in text
    text = disclosure_text(POLICY, NJ, on=TODAY, brand="visa", amount_minor=1_050, currency="jpy") or ""
    assert "payment of JPY 1,050 the surcharge is JPY 31: the total price by credit card is JPY 1,081." in text


def test_new_york_without_amount_promises_the_total() -> None:
    text = disclosure_text(POLICY, Payer("US", "NY"), on=TODAY) or ""
    assert "The total price by credit card, surcharge included, is shown before you pay." in text


def test_colorado_disclosure_carries_the_statutory_summary() -> None:
    text = disclosure_text(POLICY, Payer("US", "CO"), on=TODAY, brand="visa") or ""
    assert "adds a surcharge of 2% of the amount." in text
    assert "Colorado (statutory summary, C.R.S. 5-2-212)" in text
    assert "may not exceed 2% of the purchase" in text and "debit card or gift card" in text
