{#
    Fails once for every listed column that holds a null, returning the column's name and its count of null rows.
    One test for all of a model's required columns rather than a `not_null` test per column: a test node costs dbt and
    Dagster a fixed ~70 ms whatever the table's size (three Dagster events, one query), and this is one pass over the
    table (docs/benchmarks.md, eighth pass).
#}
{% test not_null_columns(model, column_names) %}
{%- if not column_names -%}
    {{ exceptions.raise_compiler_error("not_null_columns on " ~ model ~ " needs a non-empty column_names list") }}
{%- endif %}
{%- set conditions = [] %}
{%- for column in column_names %}
    {%- do conditions.append([column, column ~ ' is null']) %}
{%- endfor %}
{{ csops_failing_columns(model, conditions) }}
{% endtest %}
