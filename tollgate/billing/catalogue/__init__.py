"""The plan catalogue: a reviewed YAML file of plans, validated on load."""

from tollgate.billing.catalogue.loader import CatalogueError, default_catalogue, load_catalogue
from tollgate.billing.catalogue.model import (
    Catalogue,
    DimensionPrice,
    Feature,
    GraduatedPrice,
    Limit,
    PackagePrice,
    PerUnitPrice,
    Plan,
    PlanFeature,
    Price,
    SimplePrice,
    Tier,
    UnknownPlanError,
    VolumePrice,
)

__all__ = [
    "Catalogue",
    "CatalogueError",
    "DimensionPrice",
    "Feature",
    "GraduatedPrice",
    "Limit",
    "PackagePrice",
    "PerUnitPrice",
    "Plan",
    "PlanFeature",
    "Price",
    "SimplePrice",
    "Tier",
    "UnknownPlanError",
    "VolumePrice",
    "default_catalogue",
    "load_catalogue",
]
