{#
    `greatest` / `least` that skip nulls on every warehouse, as DuckDB's do (Snowflake's return null when any argument
    is null), so both engines give DuckDB's results. `expressions` is a list of SQL expressions; see _cross_db.yml.
#}
{% macro csops_greatest(expressions) -%}
    {{ return(adapter.dispatch('csops_greatest', 'csops')(expressions)) }}
{%- endmacro %}

{% macro default__csops_greatest(expressions) -%}
    greatest({{ expressions | join(', ') }})
{%- endmacro %}

{% macro snowflake__csops_greatest(expressions) -%}
    greatest_ignore_nulls({{ expressions | join(', ') }})
{%- endmacro %}


{% macro csops_least(expressions) -%}
    {{ return(adapter.dispatch('csops_least', 'csops')(expressions)) }}
{%- endmacro %}

{% macro default__csops_least(expressions) -%}
    least({{ expressions | join(', ') }})
{%- endmacro %}

{% macro snowflake__csops_least(expressions) -%}
    least_ignore_nulls({{ expressions | join(', ') }})
{%- endmacro %}
