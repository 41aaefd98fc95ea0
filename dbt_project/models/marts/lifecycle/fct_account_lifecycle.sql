{#
    Each account's current lifecycle phase and the gate that put it there, at the as-of date: one row per account
    with lifecycle history (int_account_phase_daily), plus the onboarding milestones, renewal, health and win-back
    facts behind the gates. Phase rules: see int_account_phase_daily.
#}

with

bounds as (

    select * from {{ ref('int_revenue_bounds') }}

),

today as (

    select daily.*
    from {{ ref('int_account_phase_daily') }} as daily
    cross join bounds
    where daily.date_day = bounds.as_of_date

),

current_phase as (

    select * from {{ ref('fct_account_phase_history') }}
    where is_current

),

onboarding as (

    select * from {{ ref('int_account_onboarding') }}

),

audit as (

    select * from {{ ref('fct_handoff_audit') }}

),

-- Last churn of the account (confirmed), and its health on the last scored day before it.
last_churn as (

    select *
    from {{ ref('int_account_churns') }}
    where is_churn_confirmed
    qualify row_number() over (partition by account_id order by churn_date desc nulls last) = 1

),

health_before_churn as (

    select
        last_churn.account_id,
        health.health_score,
        health.health_band
    from last_churn
    inner join {{ ref('fct_account_health') }} as health
        on health.account_id = last_churn.account_id
        and health.date_day < last_churn.churn_date
        and health.health_score is not null
    qualify row_number() over (partition by last_churn.account_id order by health.date_day desc nulls last) = 1

),

reviews as (

    select
        activities.account_id,
        max(activities.occurred_on) as last_qbr_ebr_date,
        sum(
            case when {{ dbt.datediff('activities.occurred_on', 'bounds.as_of_date', 'day') }} < 365 then 1 else 0 end
        ) as qbr_ebr_count_365d
    from {{ ref('stg_activities') }} as activities
    cross join bounds
    where activities.activity_type in ('qbr', 'ebr')
        and activities.occurred_on <= bounds.as_of_date
    group by 1

)

select
    today.account_id,
    today.phase_number,
    today.phase_name,
    today.phase_gate,
    current_phase.valid_from_date as phase_entered_date,
    current_phase.days_in_phase,
    current_phase.previous_phase_number,
    today.contract_status,
    today.next_renewal_date,
    today.days_to_renewal,
    today.is_new_account,
    audit.is_ready as is_handoff_ready,
    audit.missing_field_count as handoff_missing_field_count,
    audit.open_tasks as handoff_open_tasks,
    onboarding.kickoff_date,
    onboarding.value_activation_start_date,
    onboarding.time_to_value_date,
    onboarding.days_to_value,
    reviews.last_qbr_ebr_date,
    coalesce(reviews.qbr_ebr_count_365d, 0) as qbr_ebr_count_365d,
    today.latest_nps_score,
    today.health_score,
    today.health_band,
    last_churn.churn_date as last_churn_date,
    last_churn.churned_arr_amount as last_churned_arr_amount,
    health_before_churn.health_score as health_score_before_churn,
    health_before_churn.health_band as health_band_before_churn,
    coalesce(
        today.contract_status = 'churned'
        and {{ dbt.datediff('last_churn.churn_date', 'bounds.as_of_date', 'day') }}
            <= {{ var('csops_lifecycle')['winback_window_days'] }}
        and health_before_churn.health_band = 'green',
        false
    ) as is_winback_eligible,
    bounds.as_of_date
from today
cross join bounds
inner join current_phase on current_phase.account_id = today.account_id
inner join onboarding on onboarding.account_id = today.account_id
left join audit on audit.account_id = today.account_id
left join last_churn on last_churn.account_id = today.account_id
left join health_before_churn on health_before_churn.account_id = today.account_id
left join reviews on reviews.account_id = today.account_id
