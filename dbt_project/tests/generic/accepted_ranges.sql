{#
    Fails once for every listed column with values outside its range, returning the column's name and its count of
    such rows. `ranges` maps a column to its bounds: `min_value`, `max_value` (either may be left out) and
    `inclusive` (default true; false makes both bounds strict). Nulls pass (not_null_columns covers required
    columns). One test per model rather than one per column, for the reason not_null_columns gives (docs/benchmarks.md,
    tenth pass).
#}
{% test accepted_ranges(model, ranges) %}
{%- if not ranges -%}
    {{ exceptions.raise_compiler_error("accepted_ranges on " ~ model ~ " needs a non-empty ranges mapping") }}
{%- endif %}
{%- set conditions = [] %}
{%- for column, bounds in ranges.items() %}
    {%- set min_value, max_value = bounds.get('min_value'), bounds.get('max_value') %}
    {%- set inclusive = bounds.get('inclusive', true) %}
    {%- if min_value is none and max_value is none -%}
        {{ exceptions.raise_compiler_error(
            "accepted_ranges on " ~ model ~ "." ~ column ~ " needs min_value or max_value"
        ) }}
    {%- endif %}
    {%- set outside = [] %}
    {%- if min_value is not none %}
        {%- do outside.append(column ~ (' < ' if inclusive else ' <= ') ~ min_value) %}
    {%- endif %}
    {%- if max_value is not none %}
        {%- do outside.append(column ~ (' > ' if inclusive else ' >= ') ~ max_value) %}
    {%- endif %}
    {%- do conditions.append([column, '(' ~ outside | join(' or ') ~ ')']) %}
{%- endfor %}
{{ csops_failing_columns(model, conditions) }}
{% endtest %}
