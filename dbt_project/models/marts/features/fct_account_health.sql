{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['account_id', 'date_day'],
        on_schema_change='sync_all_columns',
        post_hook=["{{ csops_delete_rows_missing_from(ref('int_feature_health_scored')) }}"],
    )
}}
{%- set components = csops_health_components() %}
{%- set stored_columns = csops_stored_columns() %}

{#-
    Daily health score per active account-day: a weighted sum of component scores in [0, 100]. Weights, thresholds
    and band cut-offs come from var `csops_health` (default profile, optional per-segment profiles). A component whose
    inputs are missing drops out and the weights of the others are renormalised, so missing data never counts as 0.
    Each component's contribution (weight x score / available weight) sums to the score, so the change of the score
    versus 7 and 30 days ago splits exactly into per-component changes; the text names the largest.

    Incremental: a row is computed from the scored rows of its day, 7 and 30 days earlier, so `inputs_hash` hashes
    their `inputs_hash` and the text of this model's SQL; a run rewrites only the rows whose hash changed, and deletes
    rows whose scored row is gone.
-#}

{%- set lag_joins = csops_day_lag_joins('contributions', [7, 30]) %}
{%- set history_columns_sql %}
        {%- for lag in [7, 30] %}
        past_{{ lag }}.exact_score as exact_score_{{ lag }}d_ago,
        {%- for component in components %}
        current_day.contribution_{{ component }} - coalesce(past_{{ lag }}.contribution_{{ component }}, 0)
            as change_{{ lag }}d_{{ component }}{{ ',' if not (loop.last and lag == 30) }}
        {%- endfor %}
        {%- endfor %}
{%- endset %}
{%- set explanation_sql %}
-- Rank of each component by the size of its change (1 = largest; ties go to the first in the list).
ranked as (

    select
        with_history.*,
        {%- for lag in [7, 30] %}
        {%- set outer_loop = loop %}
        {%- for component in components %}
        {%- set i = loop.index0 %}
        1
        {%- for other in components if other != component %}
        + case
            when abs(change_{{ lag }}d_{{ other }}) > abs(change_{{ lag }}d_{{ component }})
                {%- if components.index(other) < i %}
                or abs(change_{{ lag }}d_{{ other }}) = abs(change_{{ lag }}d_{{ component }})
                {%- endif %}
                then 1
            else 0
        end
        {%- endfor %} as rank_{{ lag }}d_{{ component }}{{ ',' if not (loop.last and outer_loop.last) }}
        {%- endfor %}
        {%- endfor %}
    from with_history

),

explained as (

    select
        ranked.*,
        {%- for lag in [7, 30] %}
        {%- set outer_loop = loop %}
        {%- for position in range(1, 4) %}
        case
            {%- for component in components %}
            when rank_{{ lag }}d_{{ component }} = {{ position }}
                and {{ position }} <= max_components_named
                and round(abs(change_{{ lag }}d_{{ component }})) >= min_component_points
                then {{ dbt.concat([
                    "'" ~ component ~ " '",
                    "case when change_" ~ lag ~ "d_" ~ component ~ " > 0 then '+' else '' end",
                    "cast(cast(round(change_" ~ lag ~ "d_" ~ component ~ ") as integer) as " ~ dbt.type_string() ~ ")",
                ]) }}
            {%- endfor %}
        end as driver_{{ lag }}d_{{ position }}{{ ',' if not (loop.last and outer_loop.last) }}
        {%- endfor %}
        {%- endfor %}
    from ranked

),

final as (

    select
        account_id,
        date_day,
        segment,
        health_profile,
        round(exact_score, 1) as health_score,
        case
            when exact_score is null then null
            when round(exact_score, 1) >= green_min then 'green'
            when round(exact_score, 1) >= yellow_min then 'yellow'
            else 'red'
        end as health_band,
        {%- for component in components %}
        round(score_{{ component }}, 1) as score_{{ component }},
        {%- endfor %}
        {%- for component in components %}
        round(case when score_{{ component }} is not null then weight_{{ component }} / available_weight end, 4)
            as effective_weight_{{ component }},
        {%- endfor %}
        {%- for flag, condition in [('missing', 'score_{c} is null'), ('stale', 'score_{c} is not null and is_stale_{c}')] %}
        {%- set pieces = [] %}
            {%- for component in components %}
                {%- do pieces.append(
                    "case when weight_" ~ component ~ " > 0 and " ~ condition.replace('{c}', component)
                    ~ " then '" ~ component ~ ", ' else '' end"
                ) %}
            {%- endfor %}
        nullif({{ dbt.concat(pieces) }}, '') as {{ flag }}_components_list,
        {%- endfor %}
        round(exact_score_7d_ago, 1) as health_score_7d_ago,
        round(exact_score_30d_ago, 1) as health_score_30d_ago,
        round(exact_score - exact_score_7d_ago, 1) as health_change_7d,
        round(exact_score - exact_score_30d_ago, 1) as health_change_30d,
        {%- for lag in [7, 30] %}
        case
            when exact_score is null or exact_score_{{ lag }}d_ago is null then null
            when abs(round(exact_score - exact_score_{{ lag }}d_ago)) < stable_within_points
                then {{ dbt.concat([
                    "'stable vs " ~ lag ~ " days ago ('",
                    "case when round(exact_score - exact_score_" ~ lag ~ "d_ago) > 0 then '+' else '' end",
                    "cast(cast(round(exact_score - exact_score_" ~ lag ~ "d_ago) as integer) as " ~ dbt.type_string() ~ ")",
                    "case when abs(round(exact_score - exact_score_" ~ lag ~ "d_ago)) = 1 then ' pt)' else ' pts)' end",
                ]) }}
            else {{ dbt.concat([
                "case when exact_score > exact_score_" ~ lag ~ "d_ago then 'up ' else 'down ' end",
                "cast(cast(abs(round(exact_score - exact_score_" ~ lag ~ "d_ago)) as integer) as " ~ dbt.type_string() ~ ")",
                "' pts vs " ~ lag ~ " days ago'",
                "coalesce(': ' || driver_" ~ lag ~ "d_1, '')",
                "coalesce(', ' || driver_" ~ lag ~ "d_2, '')",
                "coalesce(', ' || driver_" ~ lag ~ "d_3, '')",
            ]) }}
        end as why_moved_{{ lag }}d,
        {%- endfor %}
        health_inputs_hash
    from explained

)

select
    account_id,
    date_day,
    segment,
    health_profile,
    health_score,
    health_band,
    {%- for component in components %}
    score_{{ component }},
    {%- endfor %}
    {%- for component in components %}
    effective_weight_{{ component }},
    {%- endfor %}
    -- "usage, support" without the trailing separator; null when none.
    case
        when missing_components_list is not null
            then substr(missing_components_list, 1, length(missing_components_list) - 2)
    end as missing_components,
    case
        when stale_components_list is not null
            then substr(stale_components_list, 1, length(stale_components_list) - 2)
    end as stale_components,
    health_score_7d_ago,
    health_score_30d_ago,
    health_change_7d,
    health_change_30d,
    why_moved_7d,
    why_moved_30d,
    health_inputs_hash as inputs_hash
from final
{%- endset %}
{%- set health_inputs_hash -%}
    hash(current_day.inputs_hash, past_7.inputs_hash, past_30.inputs_hash,
        {{ csops_sql_string(local_md5(lag_joins ~ history_columns_sql ~ explanation_sql)) }})
{%- endset %}

with

{%- if 'inputs_hash' in stored_columns %}

scored_hashes as (

    select
        account_id,
        date_day,
        inputs_hash
    from {{ ref('int_feature_health_scored') }}

),

changed as (

    select
        current_day.account_id,
        current_day.date_day
    {{ csops_day_lag_joins('scored_hashes', [7, 30]) }}
    left join {{ this }} as existing
        on
            current_day.account_id = existing.account_id
            and current_day.date_day = existing.date_day
    where existing.inputs_hash is distinct from {{ health_inputs_hash }}

),

-- The scored rows the changed rows read: from 30 days before the earliest one.
contributions as (

    select *
    from {{ ref('int_feature_health_scored') }}
    where date_day >= (select {{ csops_add_days('min(date_day)', -30) }} from changed)

),
{%- else %}

contributions as (

    select * from {{ ref('int_feature_health_scored') }}

),
{%- endif %}

with_history as (

    select
        current_day.*,
        {{ health_inputs_hash }} as health_inputs_hash,
        {{- history_columns_sql }}
    {{ lag_joins }}
    {%- if 'inputs_hash' in stored_columns %}
    inner join changed
        on
            current_day.account_id = changed.account_id
            and current_day.date_day = changed.date_day
    {%- endif %}

),

{{ explanation_sql }}
