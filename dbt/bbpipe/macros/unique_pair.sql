{# No two rows share (first, second): dbt_utils' unique_combination_of_columns, without the
   package download. #}
{% test unique_pair(model, first, second) %}
select {{ first }} as first_value, {{ second }} as second_value, count(*) as rows_sharing
from {{ model }}
group by 1, 2
having count(*) > 1
{% endtest %}
