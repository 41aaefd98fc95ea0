{{ config(materialized='table') }}
{%- set components = csops_health_components() %}

{#-
    Daily health score per active account-day: a weighted sum of component scores in [0, 100]. Weights, thresholds
    and band cut-offs come from var `csops_health` (default profile, optional per-segment profiles). A component whose
    inputs are missing drops out and the weights of the others are renormalised, so missing data never counts as 0.
    Each component's contribution (weight x score / available weight) sums to the score, so the change of the score
    versus 7 and 30 days ago splits exactly into per-component changes; the text names the largest.
-#}

with

contributions as (

    select * from {{ ref('int_feature_health_scored') }}

),

with_history as (

    select
        current_day.*,
        {%- for lag in [7, 30] %}
        past_{{ lag }}.exact_score as exact_score_{{ lag }}d_ago,
        {%- for component in components %}
        current_day.contribution_{{ component }} - coalesce(past_{{ lag }}.contribution_{{ component }}, 0)
            as change_{{ lag }}d_{{ component }}{{ ',' if not (loop.last and lag == 30) }}
        {%- endfor %}
        {%- endfor %}
    from contributions as current_day
    {%- for lag in [7, 30] %}
    left join contributions as past_{{ lag }}
        on
            current_day.account_id = past_{{ lag }}.account_id
            and past_{{ lag }}.date_day = {{ csops_add_days('current_day.date_day', -lag) }}
    {%- endfor %}

),

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
        end as why_moved_{{ lag }}d{{ ',' if not loop.last }}
        {%- endfor %}
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
    why_moved_30d
from final
