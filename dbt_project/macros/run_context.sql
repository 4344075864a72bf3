{#- What a run bills "as of", and the settings the pipeline passes in as vars. -#}

{% macro as_of() -%}
    {%- if var('as_of') -%}
        cast('{{ var("as_of") }}' as timestamptz)
    {%- else -%}
        get_current_timestamp()
    {%- endif -%}
{%- endmacro %}

{#- The grace period is TollgateSettings.finalization_grace_seconds, read through the plugin so
    SQL and Python can never disagree on it. -#}
{% macro finalization_grace() -%}
    to_seconds(tollgate_finalization_grace_seconds())
{%- endmacro %}

{% macro events_glob() -%}
    {{ return(var('data_dir') ~ '/events/date=*/part-*.parquet') }}
{%- endmacro %}

{#- True when the glob matches a file. Before the first event there is no Parquet at all, and
    read_parquet refuses an empty glob; staging then reads an empty, typed relation instead. -#}
{% macro parquet_files_exist(pattern) %}
    {% if not execute %}{{ return(true) }}{% endif %}
    {% set result = run_query("select count(*) from glob('" ~ pattern ~ "')") %}
    {{ return(result.columns[0].values()[0] > 0) }}
{% endmacro %}

{#- The event dates a partitioned run reloads (Dagster passes its partition range). -#}
{% macro loading_event_dates() -%}
    {{ return(is_incremental() and var('event_date_from') and var('event_date_to')) }}
{%- endmacro %}

{% macro in_loaded_event_dates(column) -%}
    {{ column }} between cast('{{ var("event_date_from") }}' as date)
        and cast('{{ var("event_date_to") }}' as date)
{%- endmacro %}
