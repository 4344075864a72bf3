{% test non_negative(model, column_name, where_clause='true') %}
select * from {{ model }} where {{ column_name }} < 0 and ({{ where_clause }})
{% endtest %}
