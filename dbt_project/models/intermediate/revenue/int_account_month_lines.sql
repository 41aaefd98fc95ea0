{#
    What an account holds at each month's measuring point, per product: one row per account, month and product line
    product, from the contracts running on the month's "state date". The state date is the snapshot date (month-end,
    or the as-of date in the current month) when a contract covers it, else the last day before it that a contract
    covered: inside a renewal gap, during a pending renewal and in the month of a churn this is the last active day,
    so the lines are the ones that are up for renewal or that ended. Feeds monthly ARR and the expansion drivers
    (products, seats, price).
#}
{{ config(materialized='table') }}

with

contracts as (

    select * from {{ ref('int_contract_periods') }}

),

months as (

    select * from {{ ref('int_revenue_months') }}

),

account_months as (

    select
        contracts.account_id,
        months.month_start_date,
        months.snapshot_date,
        max(
            case
                when contracts.end_date <= months.snapshot_date then contracts.last_covered_date
                else months.snapshot_date
            end
        ) as state_date
    from months
    inner join contracts
        on contracts.start_date <= months.snapshot_date
    group by 1, 2, 3

)

select
    account_months.account_id,
    account_months.month_start_date,
    account_months.snapshot_date,
    account_months.state_date,
    contracts.product,
    sum(contracts.arr_amount) as arr_amount,
    sum(contracts.licensed_seats) as licensed_seats,
    count(*) as contract_count,
    min(contracts.end_date) as earliest_end_date
from account_months
inner join contracts
    on contracts.account_id = account_months.account_id
    and contracts.start_date <= account_months.state_date
    and contracts.end_date > account_months.state_date
group by 1, 2, 3, 4, 5
