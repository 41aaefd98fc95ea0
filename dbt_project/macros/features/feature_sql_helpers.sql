{#
    Small cross-database helpers for the feature marts (DuckDB and Snowflake branches). dbt's own `dateadd` and
    `datediff` work too, but on DuckDB they go through timestamps; these keep DATE arithmetic on DATE, which matters on
    tens of millions of rows.
#}

{# `date_expr` plus `days` days, as a DATE. #}
{% macro csops_add_days(date_expr, days) -%}
    {{ return(adapter.dispatch('csops_add_days', 'csops')(date_expr, days)) }}
{%- endmacro %}

{% macro default__csops_add_days(date_expr, days) -%}
    cast({{ dbt.dateadd('day', days, date_expr) }} as date)
{%- endmacro %}

{% macro duckdb__csops_add_days(date_expr, days) -%}
    (cast({{ date_expr }} as date) + cast({{ days }} as integer))
{%- endmacro %}

{% macro snowflake__csops_add_days(date_expr, days) -%}
    dateadd(day, {{ days }}, cast({{ date_expr }} as date))
{%- endmacro %}


{# Whole days from `start_date` to `end_date` (end minus start), as an integer. #}
{% macro csops_days_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('csops_days_between', 'csops')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__csops_days_between(start_date, end_date) -%}
    {{ dbt.datediff(start_date, end_date, 'day') }}
{%- endmacro %}

{% macro duckdb__csops_days_between(start_date, end_date) -%}
    cast(cast({{ end_date }} as date) - cast({{ start_date }} as date) as integer)
{%- endmacro %}

{% macro snowflake__csops_days_between(start_date, end_date) -%}
    datediff(day, cast({{ start_date }} as date), cast({{ end_date }} as date))
{%- endmacro %}


{#
    A relation of integers 0 .. 10^digits - 1 in column `n`, from cross-joined digits: plain SQL that runs on every
    warehouse (no generate_series / generator()). Filter it before joining (e.g. `where n <= max_span`).
#}
{% macro csops_integers(digits=5) -%}
    {%- set parts = [] -%}
    {%- for i in range(digits) -%}
        {%- do parts.append('d' ~ i ~ '.n * ' ~ (10 ** i)) -%}
    {%- endfor -%}
    select {{ parts | join(' + ') }} as n
    from
    {%- for i in range(digits) %}
        (
            select 0 as n union all select 1 union all select 2 union all select 3 union all select 4
            union all select 5 union all select 6 union all select 7 union all select 8 union all select 9
        ) as d{{ i }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{#
    Linear score in [0, 100]: 0 at `zero_at`, 100 at `full_at`, clamped in between. `zero_at` > `full_at` scores
    "lower is better" inputs. Null input gives null, so the health score re-weights a missing input instead of
    scoring it 0 (the clamp alone would turn null into 0: csops_greatest skips nulls).
#}
{% macro csops_scale(expression, zero_at, full_at) -%}
    {%- if (zero_at | float) == (full_at | float) -%}
        {{ exceptions.raise_compiler_error("csops_scale: zero_at and full_at must differ (both " ~ zero_at ~ ")") }}
    {%- endif -%}
    {%- set ratio -%}
        (cast({{ expression }} as double) - ({{ zero_at }})) / (({{ full_at }}) - ({{ zero_at }}))
    {%- endset %}
    (100.0 * case when {{ ratio }} is not null then {{ csops_least(['1.0', csops_greatest(['0.0', ratio])]) }} end)
{%- endmacro %}


{# Double-precision division that yields null instead of failing when the denominator is 0 or null. #}
{% macro csops_safe_divide(numerator, denominator) -%}
    (cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0))
{%- endmacro %}


{# The fixed feature-category vocabulary the seed maps product events to; `other` takes everything unmapped. #}
{% macro csops_feature_categories() -%}
    {{ return(['core', 'reporting', 'automation', 'integration', 'collaboration', 'admin', 'other']) }}
{%- endmacro %}


{# SQL string literal of a Jinja value, quotes doubled. #}
{% macro csops_sql_string(value) -%}
    '{{ (value | string) | replace("'", "''") }}'
{%- endmacro %}


{#
    `partition by` key for several columns. On DuckDB and Snowflake a single 64-bit hash of them: DuckDB sorts it about
    3x faster than two strings (measured on 11M user-day rows; a collision between two of ~10^7 keys has odds ~10^-6).
    Elsewhere the plain columns.
#}
{% macro csops_partition_key(columns) -%}
    {{ return(adapter.dispatch('csops_partition_key', 'csops')(columns)) }}
{%- endmacro %}

{% macro default__csops_partition_key(columns) -%}
    {{ columns | join(', ') }}
{%- endmacro %}

{% macro duckdb__csops_partition_key(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro %}

{% macro snowflake__csops_partition_key(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro %}

{#- `from relation as current_day` with one `past_N` alias per lag: the same account's row N days earlier. -#}
{% macro csops_day_lag_joins(relation, lags) -%}
    from {{ relation }} as current_day
    {%- for lag in lags %}
    left join {{ relation }} as past_{{ lag }}
        on
            current_day.account_id = past_{{ lag }}.account_id
            and past_{{ lag }}.date_day = {{ csops_add_days('current_day.date_day', -lag) }}
    {%- endfor %}
{%- endmacro %}
