{#
    Churn per churn event: one row per active interval that ended without a renewal, i.e. whose last contract ended
    with no contract starting within the next `churn_grace_days` days. Only `churned` rows are churn; rows still in
    their grace period at the as-of date are kept as `pending_renewal` so nobody calls them churn early.
    Churned ARR is the ARR of the ending contracts (those running on the last active day).
#}

with

intervals as (

    select * from {{ ref('int_account_active_intervals') }}

)

select
    account_id,
    active_interval_number,
    interval_status as churn_status,
    interval_status = 'churned' as is_churn_confirmed,
    interval_end_date as ended_on,
    churn_date,
    last_active_date,
    grace_period_end_date,
    ending_arr_amount as churned_arr_amount,
    ending_contract_count,
    interval_start_date,
    {{ dbt.datediff('interval_start_date', 'interval_end_date', 'day') }} as tenure_days
from intervals
where interval_status in ('churned', 'pending_renewal')
