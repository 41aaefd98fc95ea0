{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['account_id', 'date_day'],
        on_schema_change='sync_all_columns',
        post_hook=["{{ csops_delete_rows_missing_from(ref('fct_account_daily')) }}"],
    )
}}
{%- set components = csops_health_components() %}
{%- set profiles = csops_health_profiles() %}
{%- set segment_profiles = profiles | selectattr('segment') | map(attribute='name') | list %}
{%- set stored_columns = csops_stored_columns() %}

{#-
    Health components per active account-day, scored with the profile of the account's segment (var `csops_health`):
    component scores in [0, 100] (null when the inputs are missing), their configured weights, the renormalised
    weights of the available ones, and each component's contribution (weight x score / available weight), which
    sum to the score. Stored, so fct_account_health can look 7 and 30 days back without recomputing it.

    Incremental: `inputs_hash` hashes everything a row is computed from (its fct_account_daily row, the account's
    segment, the first key-value event date, its fct_account_voice sentiment, and the text of the scoring SQL below,
    which holds `csops_health`), and a
    run scores only the rows whose hash changed. Rows whose fct_account_daily row is gone are deleted.
-#}

{%- set derived_inputs_sql %}
        coalesce(bounds.first_key_value_event_date <= daily.date_day, false) as key_value_events_mapped,
        accounts.segment,
        {%- if segment_profiles %}
        case
            when accounts.segment in ({% for name in segment_profiles %}{{ csops_sql_string(name) }}{{ ', ' if not loop.last }}{% endfor %})
                then accounts.segment
            else 'default'
        end as health_profile
        {%- else %}
        'default' as health_profile
        {%- endif %}
{%- endset %}
{%- set scoring_sql %}
scored as (

    select
        account_id,
        date_day,
        segment,
        health_profile,
        inputs_hash,
        {%- for component in components %}
        {{ csops_by_health_profile('health_profile', 'score', component) }} as raw_score_{{ component }},
        {{ csops_by_health_profile('health_profile', 'param', 'weights.' ~ component) }} as weight_{{ component }},
        {{ csops_by_health_profile('health_profile', 'stale', component) }} as is_stale_{{ component }},
        {%- endfor %}
        {{ csops_by_health_profile('health_profile', 'param', 'bands.green_min') }} as green_min,
        {{ csops_by_health_profile('health_profile', 'param', 'bands.yellow_min') }} as yellow_min,
        {{ csops_by_health_profile('health_profile', 'param', 'movement.stable_within_points') }} as stable_within_points,
        {{ csops_by_health_profile('health_profile', 'param', 'movement.min_component_points') }} as min_component_points,
        {{ csops_by_health_profile('health_profile', 'param', 'movement.max_components_named') }} as max_components_named
    from to_score

),

available as (

    select
        scored.*,
        {%- for component in components %}
        round(raw_score_{{ component }}, 4) as score_{{ component }},
        {%- endfor %}
        (
            {%- for component in components %}
            case when raw_score_{{ component }} is not null then weight_{{ component }} else 0 end{{ ' +' if not loop.last }}
            {%- endfor %}
        ) as available_weight
    from scored

),

contributions as (

    select
        available.*,
        {%- for component in components %}
        case
            when score_{{ component }} is not null and available_weight > 0
                then weight_{{ component }} * score_{{ component }} / available_weight
            else 0
        end as contribution_{{ component }},
        {%- endfor %}
        case
            when available_weight > 0 then (
                {%- for component in components %}
                case when score_{{ component }} is not null then weight_{{ component }} * score_{{ component }} else 0 end{{ ' +' if not loop.last }}
                {%- endfor %}
            ) / available_weight
        end as exact_score
    from available

)

select
    account_id,
    date_day,
    segment,
    health_profile,
    {%- for component in components %}
    score_{{ component }},
    weight_{{ component }},
    is_stale_{{ component }},
    contribution_{{ component }},
    {%- endfor %}
    available_weight,
    exact_score,
    green_min,
    yellow_min,
    stable_within_points,
    min_component_points,
    max_components_named,
    inputs_hash
from contributions
{%- endset %}

with

bounds as (

    select * from {{ ref('int_feature_calendar_bounds') }}

),

inputs as (

    select
        daily.*,
        {{- derived_inputs_sql }},
        voice.sentiment_avg_90d as voice_sentiment_90d,
        voice.texts_90d as voice_texts_90d,
        {{ csops_row_hash('daily', [
            'accounts.segment', 'bounds.first_key_value_event_date', 'voice.sentiment_avg_90d', 'voice.texts_90d',
            csops_sql_string(local_md5(derived_inputs_sql ~ scoring_sql)),
        ]) }} as inputs_hash
    from {{ ref('fct_account_daily') }} as daily
    cross join bounds
    left join {{ ref('stg_accounts') }} as accounts
        on daily.account_id = accounts.account_id
    -- What customers wrote in 90 days (ml/voice), part of the sentiment component.
    left join {{ ref('fct_account_voice') }} as voice
        on daily.account_id = voice.account_id
        and daily.date_day = voice.date_day

),

to_score as (

    select inputs.*
    from inputs
    {%- if 'inputs_hash' in stored_columns %}
    left join {{ this }} as existing
        on
            inputs.account_id = existing.account_id
            and inputs.date_day = existing.date_day
    where existing.inputs_hash is distinct from inputs.inputs_hash
    {%- endif %}

),

{{ scoring_sql }}
