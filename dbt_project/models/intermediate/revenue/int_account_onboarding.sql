{#
    Onboarding facts per account, the inputs of the lifecycle gates: one row per account (stg_accounts).
    - New account: created on or after the data window start. Accounts created before it were onboarded before the
      data shows (their first contract may even predate it) and skip the onboarding phases.
    - New-logo handoff: the account's earliest handoff (by close time); later opportunities are expansions.
    - Kickoff: first `kickoff` activity. Value activation starts at the first `training` on or after the kickoff, or
      `csops_lifecycle.kickoff_phase_max_days` after it, whichever is first.
    - First time-to-value: fct_account_daily.first_value_date (var csops_time_to_value: share of licensed seats
      active in 30 days plus a key-value event), for new accounts only: for older accounts the data starts after
      their value moment.
#}
{{ config(materialized='table') }}

with

accounts as (

    select * from {{ ref('stg_accounts') }}

),

bounds as (

    select * from {{ ref('int_revenue_bounds') }}

),

contracts as (

    select
        account_id,
        min(start_date) as first_contract_start_date
    from {{ ref('int_contract_periods') }}
    group by 1

),

handoffs as (

    select
        account_id,
        opportunity_id as new_logo_opportunity_id,
        opportunity_closed_at as new_logo_opportunity_closed_at
    from {{ ref('stg_handoffs') }}
    qualify row_number() over (partition by account_id order by opportunity_closed_at, opportunity_id) = 1

),

kickoffs as (

    select
        account_id,
        min(occurred_on) as kickoff_date
    from {{ ref('stg_activities') }}
    where activity_type = 'kickoff'
    group by 1

),

trainings as (

    select
        kickoffs.account_id,
        min(activities.occurred_on) as first_training_after_kickoff_date
    from kickoffs
    inner join {{ ref('stg_activities') }} as activities
        on activities.account_id = kickoffs.account_id
        and activities.activity_type = 'training'
        and activities.occurred_on >= kickoffs.kickoff_date
    group by 1

),

value_dates as (

    select
        account_id,
        min(first_value_date) as first_value_date
    from {{ ref('fct_account_daily') }}
    group by 1

),

joined as (

    select
        accounts.account_id,
        accounts.created_at,
        cast(accounts.created_at as date) as created_on,
        contracts.first_contract_start_date,
        cast(accounts.created_at as date) >= bounds.data_window_start_date as is_new_account,
        handoffs.new_logo_opportunity_id,
        handoffs.new_logo_opportunity_closed_at,
        kickoffs.kickoff_date,
        trainings.first_training_after_kickoff_date,
        cast({{ dbt.dateadd('day', var('csops_lifecycle')['kickoff_phase_max_days'], 'kickoffs.kickoff_date') }} as date)
            as kickoff_window_end_date,
        value_dates.first_value_date,
        bounds.data_window_start_date,
        case
            when cast(handoffs.new_logo_opportunity_closed_at as date) < cast(accounts.created_at as date)
                and cast(handoffs.new_logo_opportunity_closed_at as date)
                    < coalesce(contracts.first_contract_start_date, cast('9999-12-31' as date))
                then cast(handoffs.new_logo_opportunity_closed_at as date)
            when contracts.first_contract_start_date < cast(accounts.created_at as date)
                then contracts.first_contract_start_date
            else cast(accounts.created_at as date)
        end as earliest_known_date
    from accounts
    cross join bounds
    left join contracts on contracts.account_id = accounts.account_id
    left join handoffs on handoffs.account_id = accounts.account_id
    left join kickoffs on kickoffs.account_id = accounts.account_id
    left join trainings on trainings.account_id = accounts.account_id
    left join value_dates on value_dates.account_id = accounts.account_id

)

select
    account_id,
    created_at,
    created_on,
    first_contract_start_date,
    is_new_account,
    new_logo_opportunity_id,
    new_logo_opportunity_closed_at,
    kickoff_date,
    case
        when kickoff_date is null then null
        when first_training_after_kickoff_date is not null
            and first_training_after_kickoff_date <= kickoff_window_end_date
            then first_training_after_kickoff_date
        else kickoff_window_end_date
    end as value_activation_start_date,
    case
        when kickoff_date is null then null
        when first_training_after_kickoff_date is not null
            and first_training_after_kickoff_date <= kickoff_window_end_date
            then 'training_after_kickoff'
        else 'kickoff_window_elapsed'
    end as value_activation_gate,
    case when is_new_account then first_value_date end as time_to_value_date,
    case
        when is_new_account and first_value_date is not null
            then {{ dbt.datediff('first_contract_start_date', 'first_value_date', 'day') }}
    end as days_to_value,
    -- The day the account's lifecycle history starts: the earliest of its new-logo handoff close, creation and first
    -- contract start, not before the data window start.
    case
        when not is_new_account then data_window_start_date
        when earliest_known_date < data_window_start_date then data_window_start_date
        else earliest_known_date
    end as lifecycle_start_date,
    data_window_start_date
from joined
