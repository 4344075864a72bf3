"""Property-based fuzzing of every operation in the real server's ``/openapi.json``.

schemathesis generates requests from the document, valid and invalid ones, for each operation
(its examples, coverage and fuzzing phases, as ``schema.parametrize()`` runs them) and sends
them over HTTP to a real `tollgate serve`, so the ASGI fast path answers the routes it owns,
exactly as in production. A failure is a 5xx, a status code the document does not list for the
operation, a Content-Type it does not declare, or a body or header that does not match the
documented schema. Each operation is a subtest, so one run reports every failing operation,
with the failing request as a curl command.

Three passes over the same server: an admin key for any customer; an admin key for one
customer (so subscription, proration and limit changes meet that customer's real
subscription); and a customer's own key, which may act only for that customer. Known ids
(customers, events, invoices, subscriptions, notifications, plans, features) are drawn 70 % of
the time, so requests reach real state; generated ones otherwise. The run is bounded and
seeded: CI sends the same cases every time (the state they meet is relative to the real clock).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup, as_reported_failure
from schemathesis.core.result import Ok
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.pytest._test_builder import build_operation_test
from schemathesis.python._constants.orchestrator import make_constants_value_source
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api_fuzz.world import CUSTOMERS, OWN_KEY_CUSTOMER, FuzzWorld
from tollgate.billing.catalogue import default_catalogue

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SEED = 20261124
# Per operation and pass: the fuzzing phase's budget. The examples and coverage phases add
# their own deterministic cases (boundary values, missing and mistyped fields, other methods).
SETTINGS = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
KNOWN_ID_PROBABILITY = 0.7

_CATALOGUE = default_catalogue(None)
# parameter (a name in any location, or a JSON body path) -> the dictionary of known values
_BINDINGS = {
    "customer_id": "customers",
    "body.customer_id": "customers",
    "body.[*].customer_id": "customers",
    "event_id": "events",
    "invoice_id": "invoices",
    "subscription_id": "subscriptions",
    "body.subscription_id": "subscriptions",
    "body.notification_ids[*]": "notifications",
    "body.plan": "plans",
    "feature": "features",
    "body.feature": "features",
    "body.event_type": "event_types",
    "body.[*].event_type": "event_types",
    "body.unit": "units",
    "body.[*].unit": "units",
}


def _config(world: FuzzWorld, key: str, customer: str | None) -> SchemathesisConfig:
    """``customer``: every request names this customer; None: any (known or generated)."""
    subscriptions = (
        world.subscription_ids.values() if customer is None else [world.subscription_ids[customer]]
    )
    known = {
        "customers": [*CUSTOMERS, "cus_unknown"],
        "events": [*world.event_ids, "hist-0", "no-such-event"],
        "invoices": [*world.invoice_ids, "inv_000000000000000000000000"],
        "subscriptions": [*subscriptions, "sub_0000000000000000"],
        "notifications": [*world.notification_ids, "ntf_000000000000000000000000"],
        "plans": [*_CATALOGUE.plans, "no_such_plan"],
        "features": [*_CATALOGUE.features, "no_such_feature"],
        "event_types": ["api_call", "ai_tokens", "storage", "search"],
        "units": ["call", "token", "GB", "MB"],
    }
    parameters: dict[str, Any] = {
        parameter: {"dictionary": dictionary, "probability": KNOWN_ID_PROBABILITY}
        for parameter, dictionary in _BINDINGS.items()
    }
    if customer is not None:
        parameters["customer_id"] = customer  # a fixed value, not a dictionary
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {key}"},
            "dictionaries": {name: {"values": values} for name, values in known.items()},
            "parameters": parameters,
        }
    )


def _call_and_validate(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(checks=CHECKS)


PASSES = {  # name -> (which key, the one customer every request names or None)
    "admin_key": ("admin", None),
    "admin_key_one_customer": ("admin", OWN_KEY_CUSTOMER),
    "customer_own_key": ("customer", None),
}


@pytest.mark.parametrize("fuzz_pass", list(PASSES))
def test_every_operation_conforms_to_openapi(
    fuzz_world: FuzzWorld, fuzz_pass: str, subtests: pytest.Subtests
) -> None:
    which, customer = PASSES[fuzz_pass]
    key = fuzz_world.admin_key if which == "admin" else fuzz_world.customer_key
    schema = schemathesis.openapi.from_url(
        fuzz_world.openapi_url, config=_config(fuzz_world, key, customer)
    )
    # What `schema.parametrize()` does for each operation. Its lazy form for a schema known
    # only at run time (`schemathesis.pytest.from_fixture`) fails under pytest 9.2
    # ("'Function' object has no attribute '_nodeid'"), so the tests are built here.
    feedback = FeedbackSources(constants_value_source=make_constants_value_source(schema))
    operations = 0
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            error = result.err()
            with subtests.test(
                msg=f"{fuzz_pass}: {error.method} {error.path}: invalid in the document"
            ):
                raise error
            continue
        operation = result.ok()
        operations += 1
        test: Callable[[], None] = build_operation_test(
            config=schema.config,
            operation=operation,
            test_func=_call_and_validate,
            given_kwargs={},
            feedback=feedback,
            explicit_settings=SETTINGS,
        )
        with subtests.test(msg=f"{fuzz_pass}: {operation.label}"):
            try:
                test()
            except FailureGroup as failure:
                # schemathesis's own report: each distinct failure and a curl command for it
                raise as_reported_failure(failure) from None
    assert operations > 0, "/openapi.json lists no operations"
