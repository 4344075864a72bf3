"""Errors of the control plane: each says what was wrong and how to put it right."""

from __future__ import annotations


class ControlError(ValueError):
    """A change or query the control plane refuses; the message is meant for the operator."""


class NotFoundError(ControlError, LookupError):
    pass


class UnknownCustomerError(NotFoundError):
    def __init__(self, customer_id: str) -> None:
        super().__init__(
            f"no customer '{customer_id}'; create it first (tollgate customers create "
            f"{customer_id} --name ...) or see 'tollgate customers list'"
        )
        self.customer_id = customer_id


class UnknownSubscriptionError(NotFoundError):
    def __init__(self, subscription_id: str) -> None:
        super().__init__(f"no subscription '{subscription_id}'; see 'tollgate subscriptions list'")
        self.subscription_id = subscription_id


class UnknownPlanNameError(NotFoundError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no plan named '{name}'; the catalogue has: {', '.join(known)}")
        self.name = name


class UnknownFeatureError(NotFoundError):
    def __init__(self, feature: str, known: list[str]) -> None:
        super().__init__(
            f"no feature '{feature}' in the plan catalogue; it has: {', '.join(known)}"
        )
        self.feature = feature


class ConflictError(ControlError):
    """The change contradicts the current state (already exists, already subscribed ...)."""


class InvalidValueError(ControlError):
    """A value that can never be right (bad time zone, currency, negative limit ...)."""
