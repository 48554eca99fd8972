"""Money: integer minor units plus an ISO 4217 currency. Never floats."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 active codes with their minor-unit exponent. Codes absent here are refused: an unknown
# currency is almost always a typo, and guessing its exponent would misstate amounts by 100x.
MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD CAD "
        "CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD "
        "HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD "
        "MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON "
        "RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SYP SZL THB TJS TMT TOP TRY TTD TWD TZS "
        "UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWL".split(),
        2,
    ),
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}

# Largest amount accepted on any one money field: 100 billion major units at 2 decimals. Far above any
# MSP invoice, far below bigint overflow even when thousands of lines are summed.
MAX_MINOR = 10**13


def is_currency(code: str) -> bool:
    return code in MINOR_UNITS


def round_minor(value: Decimal) -> int:
    """Round a computed amount in minor units half-up (the convention of invoices and card networks)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
