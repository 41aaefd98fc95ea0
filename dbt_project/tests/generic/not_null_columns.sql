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

with

null_counts as (

    select
        {%- for column in column_names %}
        sum(case when {{ column }} is null then 1 else 0 end) as nulls_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

checked_columns as (

    {%- for column in column_names %}
    select {{ loop.index }} as column_position, '{{ column }}' as column_name{{ ' union all' if not loop.last }}
    {%- endfor %}

),

per_column as (

    select
        checked_columns.column_name,
        case checked_columns.column_position
            {%- for column in column_names %}
            when {{ loop.index }} then null_counts.nulls_{{ loop.index }}
            {%- endfor %}
        end as null_rows
    from checked_columns
    cross join null_counts

)

select column_name, null_rows
from per_column
where null_rows > 0

{% endtest %}
