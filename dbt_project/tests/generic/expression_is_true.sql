{#
    Model-level test: fails on rows where the boolean SQL `expression` is false. Rows where it is null pass, so an
    optional column in the expression is only checked when present.
#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not ({{ expression }})

{% endtest %}
