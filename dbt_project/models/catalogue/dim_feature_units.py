def model(dbt, session):
    from tollgate.billing.catalogue.tables import feature_units_table
    from tollgate.billing.dbt_plugin import catalogue

    dbt.config(materialized="table")
    return feature_units_table(catalogue())
