"""``/plans``: the plan catalogue, as customers choose from it."""

from fastapi import APIRouter, Request

from ingest_api.billing.auth import AnyKey
from ingest_api.billing.errors import error_responses
from ingest_api.billing.models import Money, PlanFeatureOut, PlanList, PlanOut, quantity_text
from tollgate.billing.catalogue import Catalogue

router = APIRouter()


def plan_list(catalogue: Catalogue) -> PlanList:
    plans = []
    for name, plan in catalogue.plans.items():
        features = []
        for feature_name, spec in plan.features.items():
            feature = catalogue.features[feature_name]
            features.append(
                PlanFeatureOut(
                    feature=feature_name,
                    display_name=feature.display_name,
                    unit=feature.unit,
                    included=quantity_text(spec.included),
                    limit=quantity_text(spec.limit.value) if spec.limit else None,
                    enforcement=spec.limit.enforcement if spec.limit else None,
                    price=spec.price,
                    dimension=spec.dimension,
                )
            )
        plans.append(
            PlanOut(
                name=name,
                display_name=plan.display_name,
                description=plan.description,
                billing_type=plan.billing_type,
                base_price=Money.of(plan.base_price, plan.currency),
                interval=plan.interval,
                cycle_anchor=plan.cycle_anchor,
                limit_reset=plan.limit_reset,
                features=features,
                perks=list(plan.perks),
            )
        )
    return PlanList(plans=plans)


@router.get(
    "/plans",
    summary="List the plans",
    description=(
        "Every plan of the catalogue in its order: base price, billing cycle, and per feature "
        "the included quantity, the limit (hard or soft) and the price of usage above it. Any "
        "valid key may read it (the catalogue is public within the deployment)."
    ),
    response_model=PlanList,
    responses=error_responses(401),
)
def list_plans(request: Request, _key: AnyKey) -> PlanList:
    return plan_list(request.app.state.catalogue)
