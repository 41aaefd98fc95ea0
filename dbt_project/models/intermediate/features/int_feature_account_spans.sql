{{ config(materialized='table') }}

-- One row per account with contracts: the day range its daily calendar covers. It starts at the first contract start
-- or the first usage (trial use before the contract counts in trailing windows), not before the data start date, and
-- ends the day before the last contract end, not after the as-of date.
with

bounds as (

    select * from {{ ref('int_feature_calendar_bounds') }}

),

contract_span as (

    select
        account_id,
        min(start_date) as first_contract_start_date,
        max(end_date) as last_contract_end_date
    from {{ ref('stg_contracts') }}
    group by account_id

),

first_usage as (

    select
        account_id,
        min(usage_date) as first_usage_date
    from {{ ref('int_feature_usage_account_daily') }}
    group by account_id

),

spans as (

    select
        contract_span.account_id,
        contract_span.first_contract_start_date,
        contract_span.last_contract_end_date,
        first_usage.first_usage_date,
        case
            when first_usage.first_usage_date < contract_span.first_contract_start_date
                then first_usage.first_usage_date
            else contract_span.first_contract_start_date
        end as earliest_activity_date,
        bounds.data_start_date,
        bounds.as_of_date
    from contract_span
    left join first_usage
        on contract_span.account_id = first_usage.account_id
    cross join bounds

)

select
    account_id,
    first_contract_start_date,
    last_contract_end_date,
    first_usage_date,
    case
        when earliest_activity_date < data_start_date then data_start_date else earliest_activity_date
    end as calendar_start_date,
    case
        when {{ csops_add_days('last_contract_end_date', -1) }} > as_of_date then as_of_date
        else {{ csops_add_days('last_contract_end_date', -1) }}
    end as calendar_end_date
from spans
