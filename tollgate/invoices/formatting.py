"""How an invoice document spells amounts, unit prices and quantities: exact, never floats.

Amounts are integer minor units, shown in major units with the currency's places
(``tollgate.billing.money``); unit prices are exact decimal strings of minor units, shown in
major units with every digit kept (0.1 cent per token is ``0.001``), never rounded, since
rounding happens once per line (``docs/pricing.md``).
"""

from __future__ import annotations

from decimal import Decimal

from tollgate.billing.money import exponent, to_major


def unit_price_major(unit_amount: str, currency: str, *, grouping: bool = False) -> str:
    """An exact unit price in minor units (``"0.15"`` cents) in major units with all its
    digits but at least the currency's places: ``"0.0015"``; ``"2900"`` -> ``"29.00"``."""
    value = to_major(Decimal(unit_amount), currency)
    digits = -int(value.normalize().as_tuple().exponent)
    places = max(exponent(currency), digits)
    return f"{value:{',' if grouping else ''}.{places}f}"


def quantity_display(quantity: str) -> str:
    """An exact quantity with thousands separators: ``"600000"`` -> ``"600,000"``."""
    return f"{Decimal(quantity):,f}"
