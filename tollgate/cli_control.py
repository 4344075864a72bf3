"""``tollgate customers|subscriptions|limits|plans|db|audit``: the control plane for operators.

Every command goes through ``ControlService``, the same operations the billing API, the
pipeline and Stripe sync use, so the CLI can do nothing they could not, and is audited alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer

from tollgate.billing.catalogue.model import Catalogue, CycleAnchor, Enforcement, Plan
from tollgate.billing.estimate import estimate
from tollgate.billing.money import format_money
from tollgate.cli_common import (
    Actor,
    ControlUrl,
    DataDir,
    PlansFile,
    control_engine,
    control_service,
    control_settings,
    fail,
    handles_errors,
    parse_moment,
    when,
)
from tollgate.control.models import EffectiveLimit, When
from tollgate.control.service import ControlService

customers_app = typer.Typer(help="Create, change, list and show customers.", no_args_is_help=True)
subscriptions_app = typer.Typer(
    help="Subscribe customers to plans, change plans, cancel.", no_args_is_help=True
)
limits_app = typer.Typer(help="Per-customer limit overrides.", no_args_is_help=True)
plans_app = typer.Typer(help="The plan catalogue (read-only here).", no_args_is_help=True)
db_app = typer.Typer(help="The control database itself.", no_args_is_help=True)

At = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="When, in ISO 8601 (2026-11-01T09:00:00Z; UTC if no zone) [default: now].",
        show_default=False,
    ),
]
CustomerId = Annotated[str, typer.Argument(help="The customer id your usage events carry.")]
SubscriptionRef = Annotated[
    str,
    typer.Argument(help="A subscription id (sub_...), or a customer id for their current one."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(customers_app, name="customers")
    app.add_typer(subscriptions_app, name="subscriptions")
    app.add_typer(limits_app, name="limits")
    app.add_typer(plans_app, name="plans")
    app.add_typer(db_app, name="db")
    app.command("audit")(audit)


# -- customers -----------------------------------------------------------------------------------


@customers_app.command("create")
@handles_errors
def customers_create(
    customer_id: CustomerId,
    name: Annotated[str, typer.Option(help="Display name.")],
    email: Annotated[str | None, typer.Option(help="Billing email.")] = None,
    timezone: Annotated[
        str, typer.Option(help="IANA time zone; billing cycles follow its wall clock.")
    ] = "UTC",
    currency: Annotated[str, typer.Option(help="ISO 4217 code the customer is billed in.")] = "usd",
    data_dir: DataDir = None,
    control_url: ControlUrl = None,
    plans_file: PlansFile = None,
    actor: Actor = None,
) -> None:
    """Create a customer."""
    with control_service(data_dir, control_url, plans_file, actor) as service:
        customer = service.create_customer(
            customer_id, name=name, email=email, timezone=timezone, currency=currency
        )
    typer.echo(
        f"created customer {customer.id} ({customer.name}, {customer.timezone}, "
        f"{customer.currency})"
    )


@customers_app.command("update")
@handles_errors
def customers_update(
    customer_id: CustomerId,
    name: Annotated[str | None, typer.Option(help="New display name.")] = None,
    email: Annotated[str | None, typer.Option(help="New billing email.")] = None,
    timezone: Annotated[str | None, typer.Option(help="New IANA time zone.")] = None,
    currency: Annotated[
        str | None, typer.Option(help="New currency (only if unsubscribed).")
    ] = None,
    data_dir: DataDir = None,
    control_url: ControlUrl = None,
    plans_file: PlansFile = None,
    actor: Actor = None,
) -> None:
    """Change a customer's name, email, time zone or currency."""
    with control_service(data_dir, control_url, plans_file, actor) as service:
        customer = service.update_customer(
            customer_id, name=name, email=email, timezone=timezone, currency=currency
        )
    typer.echo(
        f"updated customer {customer.id} ({customer.name}, {customer.timezone}, "
        f"{customer.currency})"
    )


@customers_app.command("list")
@handles_errors
def customers_list(
    data_dir: DataDir = None,
    control_url: ControlUrl = None,
    plans_file: PlansFile = None,
) -> None:
    """List customers with their current plan."""
    with control_service(data_dir, control_url, plans_file, "cli:read") as service:
        customers = service.list_customers()
        if not customers:
            typer.echo(
                "No customers yet. Create one with: tollgate customers create ID --name NAME"
            )
            return
        typer.echo(f"{'CUSTOMER':<20} {'NAME':<28} {'TIME ZONE':<20} {'CUR':<4} PLAN")
        for customer in customers:
            active = service.active_plan(customer.id)
            plan = active.plan_name if active else "-"
            typer.echo(
                f"{customer.id:<20} {customer.name:<28} {customer.timezone:<20} "
                f"{customer.currency:<4} {plan}"
            )


@customers_app.command("show")
@handles_errors
def customers_show(
    customer_id: CustomerId,
    at: At = None,
    data_dir: DataDir = None,
    control_url: ControlUrl = None,
    plans_file: PlansFile = None,
) -> None:
    """Show a customer: details, subscription, plan and effective limits."""
    moment = parse_moment(at)
    with control_service(data_dir, control_url, plans_file, "cli:read") as service:
        customer = service.get_customer(customer_id)
        active = service.active_plan(customer_id, moment)
        limits = service.effective_limits(customer_id, moment)
    typer.echo(f"customer:   {customer.id}")
    typer.echo(f"name:       {customer.name}")
    typer.echo(f"email:      {customer.email or '-'}")
    typer.echo(f"time zone:  {customer.timezone}")
    typer.echo(f"currency:   {customer.currency}")
    typer.echo(f"created:    {when(customer.created_at)}")
    if active is None:
        typer.echo("plan:       none (no active subscription)")
    else:
        sub = active.subscription
        typer.echo(
            f"plan:       {active.plan_name} ({active.plan.display_name}, "
            f"{format_money(active.plan.base_price, active.plan.currency)} / "
            f"{active.plan.interval.value})"
        )
        typer.echo(
            f"subscription: {sub.id} since {when(sub.started_at)}"
            + (f", ends {when(sub.ends_at)}" if sub.ends_at else "")
        )
        typer.echo(f"cycle:      {when(active.cycle.start)} .. {when(active.cycle.end)}")
    _print_limits(limits.limits.values())


# -- subscriptions -------------------------------------------------------------------------------


@subscriptions_app.command("create")
@handles_errors
def subscriptions_create(
    customer_id: CustomerId,
    plan: Annotated[
        str, typer.Argument(help="Plan name from the catalogue (tollgate plans list).")
    ],
    at: At = None,
    anchoring: Annotated[
        CycleAnchor | None,
        typer.Option(help="Cycle anchoring, overriding the plan's.", show_default=False),
    ] = None,
    data_dir: DataDir = None,
    control_url: ControlUrl = None,
    plans_file: PlansFile = None,
    actor: Actor = None,
) -> None:
    """Subscribe a customer to a plan."""
    moment = parse_moment(at)
    with control_service(data_dir, control_url, plans_file, actor) as service:
        sub = service.subscribe(customer_id, plan, at=moment, anchoring=anchoring)
    typer.echo(f"subscribed {customer_id} to {plan}: {sub.id} from {when(sub.started_at)}")


@subscriptions_app.command("change")
@handles_errors
def subscriptions_change(
    subscription: SubscriptionRef,
    plan: Annotated[str, typer.Argument(help="The new plan's name.")],
    at: At = None,
    timing: Annotated[
        When | None,
        typer.Option(
            "--when",
            help="now (prorated) or period_end [default: upgrades now, downgrades at period end].",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDir = None,
    control_url: ControlUrl = None,
    plans_file: PlansFile = None,
    actor: Actor = None,
) -> None:
    """Change a subscription's plan."""
    moment = parse_moment(at)
    with control_service(data_dir, control_url, plans_file, actor) as service:
        sub_id = _subscription_id(service, subscription, moment)
        change = service.change_plan(sub_id, plan, at=moment, when=timing)
    if change.timing is When.NOW:
        typer.echo(
            f"{sub_id}: {change.from_plan} -> {change.to_plan} now ({when(change.at)}); "
            f"credit {format_money(change.credit, change.currency)}, "
            f"charge {format_money(change.charge, change.currency)}"
        )
    else:
        typer.echo(
            f"{sub_id}: {change.from_plan} -> {change.to_plan} scheduled at period end "
            f"({when(change.at)})"
        )


@subscriptions_app.command("cancel")
@handles_errors
def subscriptions_cancel(
    subscription: SubscriptionRef,
    at_period_end: Annotated[
        bool,
        typer.Option(
            "--at-period-end/--now",
            help="End when the current period ends, or now (crediting the unused base price).",
        ),
    ] = True,
    at: At = None,
    data_dir: DataDir = None,
    control_url: ControlUrl = None,
    plans_file: PlansFile = None,
    actor: Actor = None,
) -> None:
    """Cancel a subscription, at period end (default) or now."""
    moment = parse_moment(at)
    with control_service(data_dir, control_url, plans_file, actor) as service:
        sub_id = _subscription_id(service, subscription, moment)
        sub = service.cancel(sub_id, at_period_end=at_period_end, at=moment)
        credit = service.plan_changes(sub_id)[-1]
    if sub.ended_at is not None:
        typer.echo(
            f"canceled {sub.id} at {when(sub.ended_at)}; "
            f"credit {format_money(credit.credit, credit.currency)}"
        )
    else:
        typer.echo(f"{sub.id} will end at {when(sub.cancel_at)} (end of the current period)")


@subscriptions_app.command("list")
@handles_errors
def subscriptions_list(
    customer: Annotated[str | None, typer.Option(help="Only this customer's.")] = None,
    data_dir: DataDir = None,
    control_url: ControlUrl = None,
    plans_file: PlansFile = None,
) -> None:
    """List subscriptions with their plan now and when they end."""
    with control_service(data_dir, control_url, plans_file, "cli:read") as service:
        subs = service.list_subscriptions(customer)
        if not subs:
            typer.echo(
                "No subscriptions. Create one with: tollgate subscriptions create CUSTOMER PLAN"
            )
            return
        typer.echo(f"{'SUBSCRIPTION':<22} {'CUSTOMER':<20} {'PLAN NOW':<14} {'STARTED':<26} ENDS")
        for sub in subs:
            plan = service.plan_at(sub.id) or "-"
            typer.echo(
                f"{sub.id:<22} {sub.customer_id:<20} {plan:<14} {when(sub.started_at):<26} "
                f"{when(sub.ends_at)}"
            )


@subscriptions_app.command("history")
@handles_errors
def subscriptions_history(
    subscription: SubscriptionRef,
    data_dir: DataDir = None,
    control_url: ControlUrl = None,
    plans_file: PlansFile = None,
) -> None:
    """A subscription's plan periods and its prorated changes."""
    with control_service(data_dir, control_url, plans_file, "cli:read") as service:
        sub_id = _subscription_id(service, subscription)
        periods = service.plan_history(sub_id)
        changes = service.plan_changes(sub_id)
    typer.echo(f"{'PLAN':<14} {'FROM':<26} UNTIL")
    for period in periods:
        typer.echo(
            f"{period.plan:<14} {when(period.effective_from):<26} {when(period.effective_to)}"
        )
    for change in changes:
        typer.echo(
            f"change at {when(change.at)} ({change.timing.value}): {change.from_plan} -> "
            f"{change.to_plan or 'canceled'}, credit {format_money(change.credit, change.currency)}"
            f", charge {format_money(change.charge, change.currency)}"
        )


def _subscription_id(
    service: ControlService, reference: str, moment: datetime | None = None
) -> str:
    """A subscription id as given, or the customer's subscription at ``moment``."""
    if reference.startswith("sub_"):
        return reference
    active = service.active_plan(reference, moment)
    if active is None:
        fail(
            f"customer '{reference}' has no active subscription; see 'tollgate subscriptions "
            f"list --customer {reference}'"
        )
    return active.subscription.id


# -- limits --------------------------------------------------------------------------------------


@limits_app.command("set")
@handles_errors
def limits_set(
    customer_id: CustomerId,
    feature: Annotated[str, typer.Argument(help="A feature of the catalogue, e.g. api_calls.")],
    value: Annotated[str, typer.Argument(help="The limit, e.g. 50000 or 2.5, or 'unlimited'.")],
    enforcement: Annotated[
        Enforcement | None,
        typer.Option(
            help="hard refuses usage beyond it, soft warns [default: the plan's].",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDir = None,
    control_url: ControlUrl = None,
    plans_file: PlansFile = None,
    actor: Actor = None,
) -> None:
    """Override one feature's limit for a customer."""
    limit = None if value.strip().lower() == "unlimited" else value
    with control_service(data_dir, control_url, plans_file, actor) as service:
        override = service.set_limit(customer_id, feature, limit, enforcement)
    typer.echo(
        f"{customer_id} {feature}: {_limit_text(override.value, override.enforcement)} (override)"
    )


@limits_app.command("reset")
@handles_errors
def limits_reset(
    customer_id: CustomerId,
    feature: Annotated[
        str | None, typer.Option(help="Only this feature's override.", show_default=False)
    ] = None,
    from_plan: Annotated[
        str | None,
        typer.Option(help="Copy this plan's limits as the overrides instead.", show_default=False),
    ] = None,
    data_dir: DataDir = None,
    control_url: ControlUrl = None,
    plans_file: PlansFile = None,
    actor: Actor = None,
) -> None:
    """Drop overrides so the customer follows their plan, or copy another plan's limits."""
    if feature is not None and from_plan is not None:
        fail("give --feature (drop one override) or --from-plan (copy a plan's limits), not both")
    with control_service(data_dir, control_url, plans_file, actor) as service:
        if feature is not None:
            service.clear_limit(customer_id, feature)
            typer.echo(f"{customer_id} {feature}: follows the plan again")
            return
        copied = service.set_limits_from_plan(customer_id, from_plan)
    if from_plan is None:
        typer.echo(f"{customer_id}: all overrides dropped; limits follow the current plan")
    else:
        typer.echo(f"{customer_id}: {len(copied)} limits copied from plan {from_plan}")


@limits_app.command("show")
@handles_errors
def limits_show(
    customer_id: CustomerId,
    at: At = None,
    data_dir: DataDir = None,
    control_url: ControlUrl = None,
    plans_file: PlansFile = None,
) -> None:
    """A customer's effective limits: their plan's, with overrides on top."""
    moment = parse_moment(at)
    with control_service(data_dir, control_url, plans_file, "cli:read") as service:
        limits = service.effective_limits(customer_id, moment)
    typer.echo(f"plan: {limits.plan or 'none (no active subscription)'}")
    _print_limits(limits.limits.values())


def _print_limits(limits: Iterable[EffectiveLimit]) -> None:
    rows = list(limits)
    if not rows:
        typer.echo("limits:     none")
        return
    typer.echo(f"{'FEATURE':<14} {'LIMIT':<20} SOURCE")
    for limit in rows:
        typer.echo(
            f"{limit.feature:<14} {_limit_text(limit.value, limit.enforcement):<20} {limit.source}"
        )


def _limit_text(value: Decimal | None, enforcement: Enforcement | None) -> str:
    if value is None:
        return "unlimited"
    return f"{value} ({enforcement.value if enforcement else 'hard'})"


# -- plans ---------------------------------------------------------------------------------------


@plans_app.command("list")
@handles_errors
def plans_list(plans_file: PlansFile = None) -> None:
    """List the catalogue's plans."""
    catalogue = control_settings(None, None, plans_file).catalogue()
    typer.echo(f"{'PLAN':<14} {'NAME':<16} {'TYPE':<12} {'BASE PRICE':<14} INTERVAL")
    for name, plan in catalogue.plans.items():
        typer.echo(
            f"{name:<14} {plan.display_name:<16} {plan.billing_type.value:<12} "
            f"{format_money(plan.base_price, plan.currency):<14} {plan.interval.value}"
        )


@plans_app.command("show")
@handles_errors
def plans_show(
    name: Annotated[str, typer.Argument(help="A plan name (tollgate plans list).")],
    plans_file: PlansFile = None,
) -> None:
    """Show one plan: price, cycles and each feature's allowance and limit."""
    plan: Plan = control_settings(None, None, plans_file).catalogue().plan(name)
    typer.echo(f"{name}: {plan.display_name} ({plan.billing_type.value})")
    if plan.description:
        typer.echo(f"  {plan.description}")
    typer.echo(
        f"base price: {format_money(plan.base_price, plan.currency)} per "
        f"{plan.interval.value}, cycles {plan.cycle_anchor.value}, limits reset "
        f"per {plan.limit_reset.value}"
    )
    typer.echo(f"{'FEATURE':<14} {'INCLUDED':<12} {'LIMIT':<20} PRICED")
    for feature, spec in plan.features.items():
        limit = _limit_text(spec.limit.value, spec.limit.enforcement) if spec.limit else "unlimited"
        priced = spec.price.model if spec.price else "no"
        typer.echo(f"{feature:<14} {spec.included!s:<12} {limit:<20} {priced}")
    for perk in plan.perks:
        typer.echo(f"perk: {perk}")


@plans_app.command("estimate")
@handles_errors
def plans_estimate(
    usage: Annotated[
        list[str],
        typer.Option(
            help="FEATURE=QUANTITY or FEATURE:DIMENSION=QUANTITY for one cycle, repeatable, "
            "e.g. --usage api_calls=20000 --usage ai_tokens:llama-3-70b=300000."
        ),
    ],
    plans_file: PlansFile = None,
) -> None:
    """What a month of this usage costs on each plan, cheapest first."""
    catalogue = control_settings(None, None, plans_file).catalogue()
    result = estimate(catalogue, _usage_pattern(usage, catalogue))
    typer.echo(f"{'PLAN':<14} {'TOTAL':>14} {'BASE':>12} {'USAGE':>12}  NOTE")
    for plan in result.plans:
        note = "cheapest" if plan is result.cheapest else "; ".join(plan.blockers)
        typer.echo(
            f"{plan.plan:<14} {format_money(plan.total, plan.currency):>14} "
            f"{format_money(plan.base_price, plan.currency):>12} "
            f"{format_money(plan.usage_amount, plan.currency):>12}  {note}"
        )


def _usage_pattern(items: list[str], catalogue: Catalogue) -> dict[str, dict[str | None, Decimal]]:
    pattern: dict[str, dict[str | None, Decimal]] = {}
    for item in items:
        key, separator, amount = item.partition("=")
        feature, _, dimension = key.strip().partition(":")
        try:
            quantity = Decimal(amount.strip())
        except InvalidOperation:
            quantity = Decimal("NaN")
        if not separator or not feature or not quantity.is_finite() or quantity < 0:
            fail(f"--usage '{item}': expected FEATURE=QUANTITY, e.g. api_calls=20000")
        if feature not in catalogue.features:
            fail(
                f"--usage '{item}': no feature '{feature}'; the catalogue has: "
                f"{', '.join(sorted(catalogue.features))}"
            )
        by_dimension = pattern.setdefault(feature, {})
        value = dimension or None
        by_dimension[value] = by_dimension.get(value, Decimal(0)) + quantity
    return pattern


# -- db and audit --------------------------------------------------------------------------------


@db_app.command("upgrade")
@handles_errors
def db_upgrade(data_dir: DataDir = None, control_url: ControlUrl = None) -> None:
    """Apply schema migrations (also done automatically whenever the database is opened)."""
    from tollgate.control.migrations import current_revision

    settings = control_settings(data_dir, control_url)
    with control_engine(settings) as engine:
        revision = current_revision(engine)
    typer.echo(f"control database at revision {revision}")


@handles_errors
def audit(
    limit: Annotated[int, typer.Option(min=1, help="How many entries, newest first.")] = 20,
    entity: Annotated[
        str | None,
        typer.Option(
            help="Only this kind: customer, subscription, limits, api_key ...", show_default=False
        ),
    ] = None,
    entity_id: Annotated[
        str | None, typer.Option(help="Only this entity's id.", show_default=False)
    ] = None,
    data_dir: DataDir = None,
    control_url: ControlUrl = None,
    plans_file: PlansFile = None,
) -> None:
    """Recent changes to the control plane: who, when, what."""
    with control_service(data_dir, control_url, plans_file, "cli:read") as service:
        entries = service.audit_entries(entity=entity, entity_id=entity_id, limit=limit)
    if not entries:
        typer.echo("No audit entries.")
        return
    typer.echo(f"{'#':>6} {'AT':<26} {'ACTOR':<18} {'ACTION':<28} ENTITY")
    for entry in entries:
        typer.echo(
            f"{entry.id:>6} {when(entry.at):<26} {entry.actor:<18} {entry.action:<28} "
            f"{entry.entity} {entry.entity_id}"
        )
