def model(dbt, session):
    from tollgate.billing.catalogue.tables import alert_thresholds_table
    from tollgate.billing.dbt_plugin import catalogue

    dbt.config(materialized="table")
    return alert_thresholds_table(catalogue())
