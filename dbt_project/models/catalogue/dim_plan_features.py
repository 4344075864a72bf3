def model(dbt, session):
    from tollgate.billing.catalogue.tables import plan_features_table
    from tollgate.billing.dbt_plugin import catalogue

    dbt.config(materialized="table")
    return plan_features_table(catalogue())
