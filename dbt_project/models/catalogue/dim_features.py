def model(dbt, session):
    from tollgate.billing.catalogue.tables import features_table
    from tollgate.billing.dbt_plugin import catalogue

    dbt.config(materialized="table")
    return features_table(catalogue())
