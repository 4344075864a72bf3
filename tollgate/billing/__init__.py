"""The billing model: plan catalogue, pricing engine, billing cycles and proration.

Every consumer that shows or charges money (pipeline, billing API, Stripe sync, dashboards)
asks this package; none of them repeats its rules.
"""
