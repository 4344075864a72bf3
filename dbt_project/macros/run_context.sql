{#- What a run bills "as of", where its data is, and which event dates it loads: DuckDB
    variables the plugin sets on every connection (tollgate/billing/dbt_run.py), read when the
    SQL runs, so the compiled SQL never changes and dbt's partial parsing holds. -#}

{% macro as_of() -%}
    getvariable('tollgate_as_of')
{%- endmacro %}

{#- The grace period is TollgateSettings.finalization_grace_seconds, read through the plugin so
    SQL and Python can never disagree on it. -#}
{% macro finalization_grace() -%}
    to_seconds(tollgate_finalization_grace_seconds())
{%- endmacro %}

{% macro events_glob() -%}
    getvariable('tollgate_data_dir') || '/events/date=*/part-*.parquet'
{%- endmacro %}

{#- True when the glob matches a file. Before the first event there is no Parquet at all, and
    read_parquet refuses an empty glob; staging then reads an empty, typed relation instead. -#}
{% macro parquet_files_exist(pattern) %}
    {% if not execute %}{{ return(true) }}{% endif %}
    {% set result = run_query("select count(*) from glob(" ~ pattern ~ ")") %}
    {{ return(result.columns[0].values()[0] > 0) }}
{% endmacro %}

{#- An incremental run of the events staging reloads the event dates the run names (Dagster
    passes its partition range), or every date when it names none. -#}
{% macro loading_event_dates() -%}
    {{ return(is_incremental()) }}
{%- endmacro %}

{% macro in_loaded_event_dates(column) -%}
    {{ column }} between coalesce(getvariable('tollgate_event_date_from'), date '0001-01-01')
        and coalesce(getvariable('tollgate_event_date_to'), date '9999-12-31')
{%- endmacro %}
