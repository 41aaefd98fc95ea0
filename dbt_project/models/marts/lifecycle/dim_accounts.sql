{#
    Accounts: one row per account (stg_accounts), with current attributes, lifecycle phase, latest health, ARR,
    next renewal and churn status at the as-of date.
#}

with

accounts as (

    select * from {{ ref('stg_accounts') }}

),

bounds as (

    select * from {{ ref('int_revenue_bounds') }}

),

lifecycle as (

    select * from {{ ref('fct_account_lifecycle') }}

),

onboarding as (

    select * from {{ ref('int_account_onboarding') }}

),

latest_health as (

    select
        account_id,
        date_day as health_date,
        health_score,
        health_band
    from {{ ref('fct_account_health') }}
    where health_score is not null
    qualify row_number() over (partition by account_id order by date_day desc nulls last) = 1

),

current_month as (

    select monthly.*
    from {{ ref('int_account_arr_monthly') }} as monthly
    cross join bounds
    where monthly.month_start_date = bounds.as_of_month_start_date

),

intervals as (

    select
        account_id,
        count(*) as active_interval_count,
        sum(case when interval_status = 'churned' then 1 else 0 end) as churn_count,
        max(case when interval_status = 'churned' then churn_date end) as last_churn_date,
        max(case when interval_status = 'scheduled' then 1 else 0 end) as has_scheduled_contract
    from {{ ref('int_account_active_intervals') }}
    group by 1

),

upcoming as (

    select
        contracts.account_id,
        min(contracts.start_date) as next_contract_start_date
    from {{ ref('int_contract_periods') }} as contracts
    cross join bounds
    where contracts.start_date > bounds.as_of_date
    group by 1

)

select
    accounts.account_id,
    accounts.account_name,
    accounts.segment,
    accounts.industry,
    accounts.region,
    accounts.csm_owner,
    accounts.created_at,
    onboarding.first_contract_start_date,
    onboarding.is_new_account,
    lifecycle.phase_number as current_phase_number,
    lifecycle.phase_name as current_phase_name,
    lifecycle.phase_gate as current_phase_gate,
    lifecycle.phase_entered_date,
    latest_health.health_score as latest_health_score,
    latest_health.health_band as latest_health_band,
    latest_health.health_date as latest_health_date,
    cast(coalesce(lifecycle_daily_arr.active_arr_amount, 0) as decimal(18, 2)) as active_arr_amount,
    cast(coalesce(current_month.ending_arr_amount, 0) as decimal(18, 2)) as reported_arr_amount,
    lifecycle.next_renewal_date,
    lifecycle.days_to_renewal,
    case
        when lifecycle.contract_status is not null then lifecycle.contract_status
        when intervals.has_scheduled_contract = 1 then 'not_started'
        else 'no_contract'
    end as churn_status,
    intervals.last_churn_date,
    coalesce(intervals.churn_count, 0) as churn_count,
    coalesce(intervals.active_interval_count, 0) - 1 as reactivation_count,
    upcoming.next_contract_start_date,
    coalesce(lifecycle.is_winback_eligible, false) as is_winback_eligible,
    bounds.as_of_date
from accounts
cross join bounds
left join lifecycle on lifecycle.account_id = accounts.account_id
left join onboarding on onboarding.account_id = accounts.account_id
left join latest_health on latest_health.account_id = accounts.account_id
left join current_month on current_month.account_id = accounts.account_id
left join intervals on intervals.account_id = accounts.account_id
left join upcoming on upcoming.account_id = accounts.account_id
left join (
    select daily.account_id, daily.active_arr_amount
    from {{ ref('int_account_phase_daily') }} as daily
    cross join bounds
    where daily.date_day = bounds.as_of_date
) as lifecycle_daily_arr on lifecycle_daily_arr.account_id = accounts.account_id
