{#
    Renewal chains: one row per contract line with the earlier line it renews and the chain it belongs to.
    A contract renews an earlier contract of the same account when it starts on the day that one ends (exclusive end
    date) or within `churn_grace_days` (30) days after. When several earlier lines qualify, the same product wins, then
    the latest end, then the contract id. Chains follow those links back to a first contract that renews nothing
    (`chain_root_contract_id`). The renewal outcome of each line is judged at the as-of date.
#}
{{ config(materialized='table') }}

with recursive

contracts as (

    select * from {{ ref('int_contract_periods') }}

),

bounds as (

    select as_of_date from {{ ref('int_revenue_bounds') }}

),

candidates as (

    select
        renewal.contract_id,
        renewed.contract_id as renewed_contract_id,
        {{ dbt.datediff('renewed.end_date', 'renewal.start_date', 'day') }} as renewal_gap_days,
        renewed.product = renewal.product as is_same_product,
        row_number() over (
            partition by renewal.contract_id
            order by case when renewed.product = renewal.product then 0 else 1 end, renewed.end_date desc nulls last,
                renewed.contract_id
        ) as predecessor_rank,
        row_number() over (
            partition by renewed.contract_id
            order by case when renewed.product = renewal.product then 0 else 1 end, renewal.start_date,
                renewal.contract_id
        ) as successor_rank
    from contracts as renewal
    inner join contracts as renewed
        on renewed.account_id = renewal.account_id
        and renewed.contract_id <> renewal.contract_id
        and renewed.end_date <= renewal.start_date
        and renewal.start_date <= cast({{ dbt.dateadd('day', var('csops_churn_grace_days'), 'renewed.end_date') }} as date)

),

predecessors as (

    select contract_id, renewed_contract_id, renewal_gap_days, is_same_product
    from candidates
    where predecessor_rank = 1

),

-- The line that renews each contract: among the lines that chose it as their predecessor, same product first.
successors as (

    select
        predecessors.renewed_contract_id as contract_id,
        predecessors.contract_id as renewed_by_contract_id
    from predecessors
    inner join contracts on contracts.contract_id = predecessors.contract_id
    qualify row_number() over (
        partition by predecessors.renewed_contract_id
        order by case when predecessors.is_same_product then 0 else 1 end, contracts.start_date, contracts.contract_id
    ) = 1

),

chains (contract_id, chain_root_contract_id, chain_position) as (

    select
        contracts.contract_id,
        contracts.contract_id,
        1
    from contracts
    left join predecessors on predecessors.contract_id = contracts.contract_id
    where predecessors.contract_id is null

    union all

    select
        predecessors.contract_id,
        chains.chain_root_contract_id,
        chains.chain_position + 1
    from predecessors
    inner join chains on chains.contract_id = predecessors.renewed_contract_id

),

-- Did the account carry on past this line's end (another line covering its end date, or any line starting within
-- the grace period)? Then a line without its own renewal was dropped, not churned.
account_continues as (

    select distinct
        ended.contract_id
    from contracts as ended
    inner join contracts as other
        on other.account_id = ended.account_id
        and other.contract_id <> ended.contract_id
        and (
            (other.start_date <= ended.end_date and other.end_date > ended.end_date)
            or (
                other.start_date >= ended.end_date
                and other.start_date
                    <= cast({{ dbt.dateadd('day', var('csops_churn_grace_days'), 'ended.end_date') }} as date)
            )
        )

),

intervals as (

    select account_id, active_interval_number, interval_status from {{ ref('int_account_active_intervals') }}

)

select
    contracts.contract_id,
    contracts.account_id,
    contracts.product,
    contracts.start_date,
    contracts.end_date,
    contracts.arr_amount,
    contracts.licensed_seats,
    contracts.active_interval_number,
    predecessors.renewed_contract_id,
    predecessors.contract_id is not null as is_renewal,
    predecessors.renewal_gap_days,
    coalesce(predecessors.is_same_product, false) as is_same_product_renewal,
    successors.renewed_by_contract_id,
    chains.chain_root_contract_id,
    chains.chain_position,
    case
        when contracts.start_date > bounds.as_of_date then 'scheduled'
        when contracts.end_date > bounds.as_of_date then 'in_term'
        when successors.renewed_by_contract_id is not null then 'renewed'
        when account_continues.contract_id is not null then 'line_not_renewed'
        when intervals.interval_status = 'pending_renewal' then 'pending_renewal'
        else 'churned'
    end as renewal_outcome
from contracts
cross join bounds
left join predecessors on predecessors.contract_id = contracts.contract_id
left join successors on successors.contract_id = contracts.contract_id
left join chains on chains.contract_id = contracts.contract_id
left join account_continues on account_continues.contract_id = contracts.contract_id
left join intervals
    on intervals.account_id = contracts.account_id
    and intervals.active_interval_number = contracts.active_interval_number
