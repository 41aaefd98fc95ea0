{#
    Use a model's custom schema verbatim (`staging`, not `main_staging`) so tables have the same names on DuckDB and
    Snowflake and Dagster asset keys [schema, model] match them. Models without one go to the target schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
