"""Money: integer minor units, exact decimals, and THE rounding rule.

Amounts are kept in a currency's minor units (cents for USD). Unit prices may be fractions of
a minor unit ($0.002 per token is 0.2 cents), so intermediate amounts are ``Decimal``; they are
rounded exactly once, per invoice line, by :func:`round_line`. Nothing else in Tollgate rounds
money.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, localcontext

# Enough digits for any quantity (decimal(38, 9) in Parquet) times any unit price, so that no
# intermediate product is ever rounded by the decimal context itself.
PRECISION = 80

# ISO 4217 currencies whose minor unit is not 1/100 (Stripe's "zero-decimal" and
# "three-decimal" currencies). Everything else has two decimals.
_ZERO_DECIMAL = "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf"
_THREE_DECIMAL = "bhd jod kwd omr tnd"
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_ZERO_DECIMAL.split(" "), 0),
    **dict.fromkeys(_THREE_DECIMAL.split(" "), 3),
}


def exponent(currency: str) -> int:
    """Decimal places of ``currency``'s minor unit (2 for usd, 0 for jpy, 3 for kwd)."""
    return _EXPONENTS.get(currency.lower(), 2)


def round_line(amount: Decimal) -> int:
    """Rounds an exact line amount (in minor units) to whole minor units, half away from zero.

    Half-up on the absolute value is what Stripe does for ``unit_amount_decimal`` line totals
    and what an invoice reader expects (0.5 cent -> 1 cent, -0.5 cent -> -1 cent).
    """
    with localcontext(prec=PRECISION):
        return int(amount.to_integral_value(rounding=ROUND_HALF_UP))


def ceil_div(numerator: Decimal, denominator: Decimal) -> Decimal:
    """``ceil(numerator / denominator)`` exactly: how many packages a quantity needs."""
    with localcontext(prec=PRECISION):
        return (numerator / denominator).to_integral_value(rounding=ROUND_CEILING)


def to_major(amount_minor: int | Decimal, currency: str) -> Decimal:
    """Minor units as a decimal amount of the major unit (1999 usd cents -> Decimal('19.99'))."""
    with localcontext(prec=PRECISION):
        return Decimal(amount_minor).scaleb(-exponent(currency))


def major_units_text(amount_minor: int, currency: str) -> str:
    """``17906`` usd -> ``"179.06"``: the amount in major units with the currency's places, as
    the billing API's ``Money.decimal``, invoice documents and spend thresholds write it."""
    return f"{to_major(amount_minor, currency):.{exponent(currency)}f}"


def format_money(amount_minor: int, currency: str) -> str:
    """A display string such as ``USD 19.99``; never used for arithmetic."""
    places = exponent(currency)
    return f"{currency.upper()} {to_major(amount_minor, currency):,.{places}f}"


_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}


def money_text(amount_minor: int, currency: str) -> str:
    """An amount for people to read: ``$1,234.50``, or ``JPY 1,200`` without a known symbol."""
    symbol = _SYMBOLS.get(currency.lower())
    if symbol is None:
        return format_money(amount_minor, currency)
    sign = "-" if amount_minor < 0 else ""
    return f"{sign}{symbol}{to_major(abs(amount_minor), currency):,.{exponent(currency)}f}"
