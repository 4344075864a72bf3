{#- A feature's usage over a set of events, by the feature's aggregation (catalogue): the one
    definition every model that sums usage (cycles, limit windows) shares. "last" is the value
    of the latest event, ties broken by arrival, so re-runs agree. -#}
{% macro aggregate_usage(aggregation, quantity='quantity') -%}
    case {{ aggregation }}
        when 'sum' then sum({{ quantity }})
        when 'count' then cast(count(*) as decimal(38, 18))
        when 'max' then max({{ quantity }})
        when 'last' then last({{ quantity }} order by event_at, part_seq, event_id)
    end
{%- endmacro %}

{#- The same, as a running value over a window named `running`. -#}
{% macro running_usage(aggregation, quantity='quantity') -%}
    case {{ aggregation }}
        when 'sum' then sum({{ quantity }}) over running
        when 'count' then cast(count(*) over running as decimal(38, 18))
        when 'max' then max({{ quantity }}) over running
        when 'last' then {{ quantity }}
    end
{%- endmacro %}

{#- The alert rule, in one place: usage has reached a threshold (a percentage of the limit)
    once it is at least that share of the limit and above zero (a zero limit is reached by
    any use). -#}
{% macro threshold_reached(used, limit_value, percent) -%}
    ({{ used }} > 0 and {{ used }} * 100 >= {{ limit_value }} * {{ percent }})
{%- endmacro %}
