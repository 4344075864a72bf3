{#- After a partitioned load: a copy in another date that was published later than the copy
    just loaded loses, so exactly one copy of each (customer_id, event_id) remains. -#}
{% macro drop_later_duplicates_outside_loaded_dates() %}
    {% if loading_event_dates() %}
        delete from {{ this }} as t
        where not ({{ in_loaded_event_dates('t.event_date') }})
          and exists (
              select 1 from {{ this }} as n
              where {{ in_loaded_event_dates('n.event_date') }}
                and n.customer_id = t.customer_id
                and n.event_id = t.event_id
                and (
                    n.part_seq < t.part_seq
                    or (n.part_seq = t.part_seq and n.event_date < t.event_date)
                )
          )
    {% else %}
        select 1
    {% endif %}
{% endmacro %}
