{#
    The body of the tests that check many columns of a model in one pass (not_null_columns, accepted_ranges):
    `conditions` is a list of [column_name, SQL that is true on a failing row]. Returns one row per column with
    failing rows, naming the column and counting its failing rows, so a failure says which columns broke and how
    badly.
#}
{% macro csops_failing_columns(model, conditions) %}
with

failure_counts as (

    select
        {%- for column, failing in conditions %}
        sum(case when {{ failing }} then 1 else 0 end) as failures_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

checked_columns as (

    {%- for column, failing in conditions %}
    select {{ loop.index }} as column_position, '{{ column }}' as column_name{{ ' union all' if not loop.last }}
    {%- endfor %}

),

per_column as (

    select
        checked_columns.column_name,
        case checked_columns.column_position
            {%- for column, failing in conditions %}
            when {{ loop.index }} then failure_counts.failures_{{ loop.index }}
            {%- endfor %}
        end as failing_rows
    from checked_columns
    cross join failure_counts

)

select column_name, failing_rows
from per_column
where failing_rows > 0
{% endmacro %}
