{#
    Model-level test: fails with one row per combination of `combination_of_columns` that occurs more than once
    (the grain of the model). Null parts compare equal, as in a primary key made of nullable columns.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as row_count
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
