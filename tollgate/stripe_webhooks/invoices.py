"""``invoice.payment_succeeded`` and ``invoice.payment_failed``: an invoice paid, or not.

Each stores the payment's state in ``invoice_payments`` (one row per Stripe invoice). A failed
payment also raises a ``payment_failed`` notification, once per invoice. Paid is final, as in
Stripe: a failure created before the success and delivered after it changes nothing, and a
success is applied even if a failure created later was applied first (Stripe never fails an
invoice once paid, so only the order of delivery can make it look so).
"""

from __future__ import annotations

from tollgate.billing.money import format_money
from tollgate.control.errors import UnknownSubscriptionError
from tollgate.control.models import Customer, InvoicePayment
from tollgate.stripe_webhooks.context import HandlerContext, Outcome, log
from tollgate.stripe_webhooks.objects import InvoiceFacts

PAYMENT_FAILED = "payment_failed"


def payment_succeeded(ctx: HandlerContext) -> Outcome:
    return _payment(ctx, "paid")


def payment_failed(ctx: HandlerContext) -> Outcome:
    return _payment(ctx, "failed")


def _payment(ctx: HandlerContext, status: str) -> Outcome:
    invoice = InvoiceFacts.read(ctx.event.object)
    paid = status == "paid"
    customer = ctx.customer_for(invoice.stripe_customer_id, invoice.id, ordered=not paid)
    if isinstance(customer, Outcome):
        return customer
    stored = ctx.control.invoice_payment(invoice.id)
    if stored is not None and stored.status == "paid":
        return Outcome("stale", f"invoice {invoice.id} is paid already")
    ctx.control.record_invoice_payment(
        InvoicePayment(
            stripe_invoice_id=invoice.id,
            customer_id=customer.id,
            subscription_id=_tollgate_subscription(ctx, customer, invoice),
            stripe_subscription_id=invoice.stripe_subscription_id,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            amount_due=invoice.amount_due,
            amount_paid=invoice.amount_paid,
            currency=invoice.currency,
            status=status,
            last_event_id=ctx.event.id,
            last_event_created=ctx.event.created,
            updated_at=ctx.now,
        )
    )
    if not paid:
        amount = format_money(invoice.amount_due, invoice.currency)
        ctx.notify(
            PAYMENT_FAILED,
            invoice.id,
            customer.id,
            "critical",
            (invoice.period_start, invoice.period_end),
            "Payment failed",
            f"The payment of {amount} for invoice {invoice.number or invoice.id} "
            f"({invoice.period_start:%Y-%m-%d} to {invoice.period_end:%Y-%m-%d}) failed. "
            "Update your payment method; Stripe will try again.",
        )
    return ctx.applied(invoice.id, "invoice")


def _tollgate_subscription(
    ctx: HandlerContext, customer: Customer, invoice: InvoiceFacts
) -> str | None:
    """The subscription the Stripe subscription's metadata names, if it is the customer's."""
    named = invoice.tollgate_subscription_id
    if named is None:
        return None
    try:
        subscription = ctx.control.get_subscription(named)
    except UnknownSubscriptionError:
        subscription = None
    if subscription is None or subscription.customer_id != customer.id:
        log.warning(
            "Stripe invoice %s names Tollgate subscription %s, which is not customer %s's; "
            "stored without it",
            invoice.id,
            named,
            customer.id,
        )
        return None
    return subscription.id
