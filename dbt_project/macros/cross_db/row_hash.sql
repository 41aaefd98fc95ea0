{#
    64-bit hash of a whole row (`row_alias`, a relation alias) and further SQL expressions, for incremental models that
    rewrite only the rows whose inputs changed; see _cross_db.yml.
#}
{% macro csops_row_hash(row_alias, expressions=[]) -%}
    {{ return(adapter.dispatch('csops_row_hash', 'csops')(row_alias, expressions)) }}
{%- endmacro %}

{% macro default__csops_row_hash(row_alias, expressions=[]) -%}
    hash({{ ([row_alias] + expressions) | join(', ') }})
{%- endmacro %}

{% macro snowflake__csops_row_hash(row_alias, expressions=[]) -%}
    hash({{ (['object_construct_keep_null(' ~ row_alias ~ '.*)'] + expressions) | join(', ') }})
{%- endmacro %}
