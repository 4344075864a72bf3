def model(dbt, session):
    from tollgate.billing.catalogue.tables import plans_table
    from tollgate.billing.dbt_plugin import catalogue

    dbt.config(materialized="table")
    return plans_table(catalogue())
