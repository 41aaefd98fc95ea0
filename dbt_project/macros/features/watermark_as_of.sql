{#- The last day every required landing source is complete through (int_source_watermarks), as a scalar subquery. -#}
{% macro csops_watermark_as_of() -%}
(select min(watermark_date) from {{ ref('int_source_watermarks') }} where holds_as_of)
{%- endmacro %}
