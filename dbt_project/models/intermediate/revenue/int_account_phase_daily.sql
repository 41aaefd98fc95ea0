{#
    Lifecycle phase per account per day, from the account's lifecycle start (new accounts: handoff close or
    creation; older accounts: the data window start) to the as-of date. Deterministic: every input is dated data
    (contracts, handoff versions by batch day, activities, fct_account_daily, fct_account_health), so a rebuild on the
    same data reproduces it; fct_account_phase_history collapses it into SCD-2 rows.

    Contract status of a day: active (a contract covers it), renewal_gap (no contract, but a renewal starts within the
    grace period), pending_renewal (the last contract ended at most csops_churn_grace_days days ago and nothing has
    started), churned (longer ago), not_started (before the first contract).

    Phase (the first rule that holds):
    11 Churn handling     pending_renewal or churned
     9 Growth & renewal   renewal_gap, or the next renewal (earliest end of the running contracts) within
                          csops_renewal_window_days days: the time-bound renewal motion comes before advocacy
    10 Advocacy           value reached (8's gate), latest NPS >= csops_lifecycle.advocacy_min_nps and high health
                          (green band on each of the last csops_lifecycle.advocacy_green_days days)
     8 Value realization  first time-to-value reached, or an account created before the data window
     4 Value activation   value activation started (first training after the kickoff, or the kickoff window elapsed)
     3 Kickoff            kickoff activity held
     2 Diagnostic         handoff complete (all six fields, in the version known that day)
     1 Internal transition  otherwise (handoff audit open, or no handoff)
#}
{{ config(materialized='table') }}

with

bounds as (

    select * from {{ ref('int_revenue_bounds') }}

),

onboarding as (

    select * from {{ ref('int_account_onboarding') }}

),

contracts as (

    select * from {{ ref('int_contract_periods') }}

),

intervals as (

    select * from {{ ref('int_account_active_intervals') }}

),

numbers as (

    {{ dbt.generate_series(7305) }}

),

days as (

    select cast({{ dbt.dateadd('day', 'numbers.generated_number - 1', 'bounds.data_window_start_date') }} as date)
        as date_day
    from numbers
    cross join bounds

),

grid as (

    select
        onboarding.account_id,
        days.date_day
    from onboarding
    cross join bounds
    inner join days
        on days.date_day >= onboarding.lifecycle_start_date
        and days.date_day <= bounds.as_of_date

),

coverage as (

    select
        grid.account_id,
        grid.date_day,
        min(contracts.end_date) as next_renewal_date,
        sum(contracts.arr_amount) as active_arr_amount
    from grid
    inner join contracts
        on contracts.account_id = grid.account_id
        and contracts.start_date <= grid.date_day
        and contracts.end_date > grid.date_day
    group by 1, 2

),

interval_state as (

    select
        grid.account_id,
        grid.date_day,
        max(
            case when intervals.interval_start_date <= grid.date_day and grid.date_day < intervals.interval_end_date
                then 1 else 0 end
        ) as is_in_interval,
        max(
            case
                when grid.date_day >= intervals.interval_end_date
                    and {{ dbt.datediff('intervals.interval_end_date', 'grid.date_day', 'day') }}
                        <= {{ var('csops_churn_grace_days') }}
                    then 1 else 0
            end
        ) as is_in_grace,
        max(case when intervals.interval_start_date <= grid.date_day then 1 else 0 end) as has_started
    from grid
    inner join intervals on intervals.account_id = grid.account_id
    group by 1, 2

),

handoff_state as (

    select
        grid.account_id,
        grid.date_day,
        max(case when versions.is_complete then 1 else 0 end) as is_handoff_complete
    from grid
    inner join onboarding on onboarding.account_id = grid.account_id
    inner join {{ ref('int_handoff_versions') }} as versions
        on versions.opportunity_id = onboarding.new_logo_opportunity_id
        and versions.valid_from_date <= grid.date_day
        and versions.valid_to_date > grid.date_day
    group by 1, 2

),

facts as (

    select
        grid.account_id,
        grid.date_day,
        case
            when coverage.account_id is not null then 'active'
            when interval_state.is_in_interval = 1 then 'renewal_gap'
            when interval_state.is_in_grace = 1 then 'pending_renewal'
            when interval_state.has_started = 1 then 'churned'
            else 'not_started'
        end as contract_status,
        coverage.next_renewal_date,
        coverage.active_arr_amount,
        onboarding.is_new_account,
        coalesce(handoff_state.is_handoff_complete, 0) = 1 as is_handoff_complete,
        onboarding.new_logo_opportunity_id is not null as has_handoff,
        onboarding.kickoff_date <= grid.date_day as is_kickoff_held,
        onboarding.value_activation_start_date <= grid.date_day as is_value_activation_started,
        onboarding.value_activation_gate,
        onboarding.time_to_value_date <= grid.date_day as is_value_reached,
        daily.latest_nps_score,
        health.health_score,
        health.health_band
    from grid
    inner join onboarding on onboarding.account_id = grid.account_id
    left join coverage
        on coverage.account_id = grid.account_id
        and coverage.date_day = grid.date_day
    left join interval_state
        on interval_state.account_id = grid.account_id
        and interval_state.date_day = grid.date_day
    left join handoff_state
        on handoff_state.account_id = grid.account_id
        and handoff_state.date_day = grid.date_day
    left join {{ ref('fct_account_daily') }} as daily
        on daily.account_id = grid.account_id
        and daily.date_day = grid.date_day
    left join {{ ref('fct_account_health') }} as health
        on health.account_id = grid.account_id
        and health.date_day = grid.date_day

),

phased as (

    select
        facts.*,
        coalesce(facts.is_value_reached, false) or not facts.is_new_account as has_value_gate,
        -- High health: green on each of the last `advocacy_green_days` days (the grid is gap-free per account), so a
        -- score wobbling around the band threshold does not flip the phase every other day.
        sum(case when facts.health_band = 'green' then 1 else 0 end) over (
            partition by facts.account_id order by facts.date_day
            rows between {{ var('csops_lifecycle')['advocacy_green_days'] - 1 }} preceding and current row
        ) = {{ var('csops_lifecycle')['advocacy_green_days'] }} as is_health_high,
        case
            when contract_status = 'active'
                then {{ dbt.datediff('facts.date_day', 'facts.next_renewal_date', 'day') }}
        end as days_to_renewal
    from facts

),

final as (

    select
        account_id,
        date_day,
        contract_status,
        next_renewal_date,
        days_to_renewal,
        cast(active_arr_amount as decimal(18, 2)) as active_arr_amount,
        is_new_account,
        is_handoff_complete,
        coalesce(is_kickoff_held, false) as is_kickoff_held,
        coalesce(is_value_activation_started, false) as is_value_activation_started,
        has_value_gate,
        latest_nps_score,
        health_score,
        health_band,
        is_health_high,
        case
            when contract_status in ('pending_renewal', 'churned') then 11
            when contract_status = 'renewal_gap' then 9
            when contract_status = 'active' and days_to_renewal <= {{ var('csops_renewal_window_days') }} then 9
            when has_value_gate and latest_nps_score >= {{ var('csops_lifecycle')['advocacy_min_nps'] }}
                and is_health_high then 10
            when has_value_gate then 8
            when is_value_activation_started then 4
            when is_kickoff_held then 3
            when is_handoff_complete then 2
            else 1
        end as phase_number,
        case
            when contract_status = 'churned' then 'churned'
            when contract_status = 'pending_renewal' then 'contract_ended_pending_renewal'
            when contract_status = 'renewal_gap' then 'renewal_in_progress'
            when contract_status = 'active' and days_to_renewal <= {{ var('csops_renewal_window_days') }}
                then 'renewal_within_window'
            when has_value_gate and latest_nps_score >= {{ var('csops_lifecycle')['advocacy_min_nps'] }}
                and is_health_high then 'promoter_nps_and_green_health'
            when has_value_gate and is_new_account then 'time_to_value_reached'
            when has_value_gate then 'created_before_data_window'
            when is_value_activation_started then value_activation_gate
            when is_kickoff_held then 'kickoff_held'
            when is_handoff_complete then 'handoff_complete'
            when has_handoff then 'handoff_incomplete'
            else 'no_handoff'
        end as phase_gate
    from phased

)

select
    account_id,
    date_day,
    phase_number,
    case phase_number
        when 1 then 'Internal transition'
        when 2 then 'Diagnostic'
        when 3 then 'Kickoff'
        when 4 then 'Value activation'
        when 8 then 'Value realization'
        when 9 then 'Growth & renewal'
        when 10 then 'Advocacy'
        when 11 then 'Churn handling'
    end as phase_name,
    phase_gate,
    contract_status,
    next_renewal_date,
    days_to_renewal,
    active_arr_amount,
    is_new_account,
    is_handoff_complete,
    is_kickoff_held,
    is_value_activation_started,
    has_value_gate,
    latest_nps_score,
    health_score,
    health_band,
    is_health_high
from final
