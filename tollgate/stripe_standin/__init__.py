"""A small, stateful, local stand-in for the parts of the Stripe API that Tollgate uses.

Driven through the official ``stripe`` SDK for tests and the offline demo; see
``docs/stripe_standin.md`` for what it implements and what it deliberately does not.
"""

from tollgate.stripe_standin.server import StripeStandin

__all__ = ["StripeStandin"]
