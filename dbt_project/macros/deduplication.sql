{#- After a partitioned load: a copy in another date that was published later than the copy
    just loaded loses, so exactly one copy of each (customer_id, event_id) remains. -#}
{% macro drop_later_duplicates_outside_loaded_dates() %}
    {% if loading_event_dates() %}
        -- a join from the loaded dates' rows (few) to the rest: a correlated EXISTS here
        -- costs four times as much
        delete from {{ this }} as t
        using (
            select customer_id, event_id, part_seq, event_date from {{ this }}
            where {{ in_loaded_event_dates('event_date') }}
        ) as n
        where not ({{ in_loaded_event_dates('t.event_date') }})
            and n.customer_id = t.customer_id
            and n.event_id = t.event_id
            and (n.part_seq < t.part_seq or (n.part_seq = t.part_seq and n.event_date < t.event_date))
    {% else %}
        select 1
    {% endif %}
{% endmacro %}
