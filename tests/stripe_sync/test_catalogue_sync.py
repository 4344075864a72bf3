"""The catalogue in Stripe: created once, found again by every re-run, changed when it changes."""

from __future__ import annotations

from tests.stripe_sync.conftest import World
from tollgate.stripe_sync.catalogue_sync import CatalogueSync


def test_a_rerun_creates_nothing(world: World) -> None:
    before = world.standin.request_count("POST", "/v1/prices")

    again = CatalogueSync(world.client).sync(world.catalogue)

    assert again.created == []
    assert again.updated == []
    assert world.standin.request_count("POST", "/v1/prices") == before
    assert again.prices == world.synced.prices
    assert again.meters == world.synced.meters
    # What the first run made: a product per plan, a meter per billable feature.
    assert len([c for c in world.synced.created if c.startswith("product ")]) == len(
        world.catalogue.plans
    )
    assert sorted(world.synced.meters) == [
        "tollgate_ai_tokens",
        "tollgate_ai_tokens__llama_3_70b",
        "tollgate_ai_tokens__other",
        "tollgate_api_calls",
        "tollgate_storage",
    ]


def test_a_changed_price_takes_over_the_lookup_key_and_the_old_one_is_archived(
    world: World,
) -> None:
    data = world.catalogue.model_dump()
    data["plans"]["starter"]["base_price"] = 3400
    data["plans"]["starter"]["display_name"] = "Starter 2027"
    changed = type(world.catalogue).model_validate(data)
    old_price = world.synced.prices["tollgate:starter:base"]

    result = CatalogueSync(world.client).sync(changed)

    new_price = result.prices["tollgate:starter:base"]
    assert new_price != old_price
    assert result.updated[:2] == ["product tollgate_plan_starter", "price tollgate:starter:base"]
    assert result.archived == [old_price]
    # Metered prices charge the same: same prices, renamed.
    for key in ("tollgate:starter:ai_tokens", "tollgate:starter:api_calls"):
        assert result.prices[key] == world.synced.prices[key]
        nickname = world.client.v1.prices.retrieve(result.prices[key]).nickname
        assert str(nickname).startswith("Starter 2027")
    (found,) = world.client.v1.prices.list({"lookup_keys": ["tollgate:starter:base"]}).data
    assert (found.id, found.unit_amount) == (new_price, 3400)
    assert world.client.v1.prices.retrieve(old_price).active is False
    assert world.client.v1.products.retrieve("tollgate_plan_starter").name == "Starter 2027"
