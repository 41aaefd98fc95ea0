{#
    ARR waterfall, retention and logo counts per month and grouping, for the months of the data window (earlier
    contract history is survivor-biased: it lacks accounts that churned before the window).

    Design: one row per month x grouping_type x grouping_value, with grouping_type `overall` (grouping_value `all`),
    `segment` or `csm_owner`. An account-month counts in the group the account belonged to on the month's snapshot
    date (accounts batch history), for every amount of that month; a reassignment therefore moves ARR between
    owners from one month to the next and a group's starting ARR need not equal its previous ending ARR (overall it
    always does). Trailing-12-month rates use the cohort of accounts with ARR at the snapshot 12 months earlier, in
    the group they belonged to then, and are null until that snapshot is at or after the day before the window start.
#}

with

monthly as (

    select * from {{ ref('int_account_arr_monthly') }}

),

months as (

    select * from {{ ref('int_revenue_months') }}
    where is_within_data_window

),

versions as (

    select * from {{ ref('int_account_versions') }}

),

bounds as (

    select * from {{ ref('int_revenue_bounds') }}

),

-- Account-months with something to count, with the group values on the snapshot date.
account_months as (

    select
        monthly.*,
        coalesce(versions.segment, 'unknown') as segment,
        coalesce(versions.csm_owner, 'unassigned') as csm_owner
    from monthly
    left join versions
        on versions.account_id = monthly.account_id
        and versions.valid_from_date <= monthly.snapshot_date
        and versions.valid_to_date > monthly.snapshot_date
    where monthly.starting_arr_amount > 0
        or monthly.ending_arr_amount > 0
        or monthly.started_interval_number is not null
        or monthly.churn_date is not null

),

grouped as (

    select 'overall' as grouping_type, 'all' as grouping_value, account_months.* from account_months
    union all
    select 'segment', segment, account_months.* from account_months
    union all
    select 'csm_owner', csm_owner, account_months.* from account_months

),

aggregated as (

    select
        month_start_date,
        grouping_type,
        grouping_value,
        sum(starting_arr_amount) as starting_arr_amount,
        sum(new_arr_amount) as new_arr_amount,
        sum(reactivation_arr_amount) as reactivation_arr_amount,
        sum(expansion_arr_amount) as expansion_arr_amount,
        sum(contraction_arr_amount) as contraction_arr_amount,
        sum(churned_arr_amount) as churned_arr_amount,
        sum(ending_arr_amount) as ending_arr_amount,
        sum(case when starting_arr_amount > 0 then 1 else 0 end) as starting_logos,
        sum(case when started_interval_number = 1 then 1 else 0 end) as new_logos,
        sum(case when started_interval_number > 1 then 1 else 0 end) as reactivated_logos,
        sum(case when churn_date is not null then 1 else 0 end) as churned_logos,
        sum(case when expansion_arr_amount > 0 then 1 else 0 end) as expanded_logos,
        sum(case when contraction_arr_amount > 0 then 1 else 0 end) as contracted_logos,
        sum(case when ending_arr_amount > 0 then 1 else 0 end) as ending_logos
    from grouped
    group by 1, 2, 3

),

-- Trailing 12 months: the cohort with ARR on the snapshot 12 months earlier, grouped as it was then.
cohort_pairs as (

    select
        cast({{ dbt.dateadd('month', 12, 'cohort.month_start_date') }} as date) as month_start_date,
        cohort.account_id,
        coalesce(versions.segment, 'unknown') as segment,
        coalesce(versions.csm_owner, 'unassigned') as csm_owner,
        cohort.ending_arr_amount as cohort_arr_amount,
        coalesce(later.ending_arr_amount, 0) as later_arr_amount
    from monthly as cohort
    left join monthly as later
        on later.account_id = cohort.account_id
        and later.month_start_date = cast({{ dbt.dateadd('month', 12, 'cohort.month_start_date') }} as date)
    left join versions
        on versions.account_id = cohort.account_id
        and versions.valid_from_date <= cohort.snapshot_date
        and versions.valid_to_date > cohort.snapshot_date
    cross join bounds
    where cohort.ending_arr_amount > 0
        and cohort.snapshot_date >= cast({{ dbt.dateadd('day', -1, 'bounds.data_window_start_date') }} as date)

),

cohort_grouped as (

    select 'overall' as grouping_type, 'all' as grouping_value, cohort_pairs.* from cohort_pairs
    union all
    select 'segment', segment, cohort_pairs.* from cohort_pairs
    union all
    select 'csm_owner', csm_owner, cohort_pairs.* from cohort_pairs

),

trailing_cohorts as (

    select
        month_start_date,
        grouping_type,
        grouping_value,
        sum(cohort_arr_amount) as t12_cohort_starting_arr_amount,
        sum(later_arr_amount) as t12_cohort_ending_arr_amount,
        sum(case when later_arr_amount < cohort_arr_amount then later_arr_amount else cohort_arr_amount end)
            as t12_cohort_retained_arr_amount,
        count(*) as t12_cohort_logos,
        sum(case when later_arr_amount > 0 then 1 else 0 end) as t12_cohort_retained_logos
    from cohort_grouped
    group by 1, 2, 3

),

-- Every window month has an overall row, even without any ARR.
keys as (

    select month_start_date, 'overall' as grouping_type, 'all' as grouping_value from months
    union
    select month_start_date, grouping_type, grouping_value from aggregated
    union
    select month_start_date, grouping_type, grouping_value from trailing_cohorts

),

joined as (

    select
        keys.month_start_date,
        months.snapshot_date,
        months.is_partial_month,
        keys.grouping_type,
        keys.grouping_value,
        coalesce(aggregated.starting_arr_amount, 0) as starting_arr_amount,
        coalesce(aggregated.new_arr_amount, 0) as new_arr_amount,
        coalesce(aggregated.reactivation_arr_amount, 0) as reactivation_arr_amount,
        coalesce(aggregated.expansion_arr_amount, 0) as expansion_arr_amount,
        coalesce(aggregated.contraction_arr_amount, 0) as contraction_arr_amount,
        coalesce(aggregated.churned_arr_amount, 0) as churned_arr_amount,
        coalesce(aggregated.ending_arr_amount, 0) as ending_arr_amount,
        coalesce(aggregated.starting_logos, 0) as starting_logos,
        coalesce(aggregated.new_logos, 0) as new_logos,
        coalesce(aggregated.reactivated_logos, 0) as reactivated_logos,
        coalesce(aggregated.churned_logos, 0) as churned_logos,
        coalesce(aggregated.expanded_logos, 0) as expanded_logos,
        coalesce(aggregated.contracted_logos, 0) as contracted_logos,
        coalesce(aggregated.ending_logos, 0) as ending_logos,
        t12.t12_cohort_starting_arr_amount,
        t12.t12_cohort_ending_arr_amount,
        t12.t12_cohort_retained_arr_amount,
        t12.t12_cohort_logos,
        t12.t12_cohort_retained_logos
    from keys
    inner join months on months.month_start_date = keys.month_start_date
    left join aggregated
        on aggregated.month_start_date = keys.month_start_date
        and aggregated.grouping_type = keys.grouping_type
        and aggregated.grouping_value = keys.grouping_value
    left join trailing_cohorts as t12
        on t12.month_start_date = keys.month_start_date
        and t12.grouping_type = keys.grouping_type
        and t12.grouping_value = keys.grouping_value

)

select
    grouping_type || '|' || grouping_value || '|' || cast(month_start_date as {{ dbt.type_string() }})
        as nrr_monthly_id,
    month_start_date,
    snapshot_date,
    is_partial_month,
    grouping_type,
    grouping_value,
    cast(starting_arr_amount as decimal(18, 2)) as starting_arr_amount,
    cast(new_arr_amount as decimal(18, 2)) as new_arr_amount,
    cast(reactivation_arr_amount as decimal(18, 2)) as reactivation_arr_amount,
    cast(expansion_arr_amount as decimal(18, 2)) as expansion_arr_amount,
    cast(contraction_arr_amount as decimal(18, 2)) as contraction_arr_amount,
    cast(churned_arr_amount as decimal(18, 2)) as churned_arr_amount,
    cast(ending_arr_amount as decimal(18, 2)) as ending_arr_amount,
    cast(
        lag(ending_arr_amount) over (partition by grouping_type, grouping_value order by month_start_date)
        as decimal(18, 2)
    ) as previous_month_ending_arr_amount,
    cast(ending_arr_amount - starting_arr_amount as decimal(18, 2)) as net_new_arr_amount,
    case
        when starting_arr_amount > 0
            then cast(starting_arr_amount - contraction_arr_amount - churned_arr_amount as double)
                / cast(starting_arr_amount as double)
    end as grr,
    case
        when starting_arr_amount > 0
            then cast(starting_arr_amount + expansion_arr_amount - contraction_arr_amount - churned_arr_amount as double)
                / cast(starting_arr_amount as double)
    end as nrr,
    case
        when t12_cohort_starting_arr_amount > 0
            then cast(t12_cohort_retained_arr_amount as double) / cast(t12_cohort_starting_arr_amount as double)
    end as grr_t12m,
    case
        when t12_cohort_starting_arr_amount > 0
            then cast(t12_cohort_ending_arr_amount as double) / cast(t12_cohort_starting_arr_amount as double)
    end as nrr_t12m,
    cast(t12_cohort_starting_arr_amount as decimal(18, 2)) as t12m_cohort_starting_arr_amount,
    cast(t12_cohort_ending_arr_amount as decimal(18, 2)) as t12m_cohort_ending_arr_amount,
    cast(t12_cohort_retained_arr_amount as decimal(18, 2)) as t12m_cohort_retained_arr_amount,
    cast(t12_cohort_logos as {{ dbt.type_int() }}) as t12m_cohort_logos,
    cast(t12_cohort_retained_logos as {{ dbt.type_int() }}) as t12m_cohort_retained_logos,
    cast(starting_logos as {{ dbt.type_int() }}) as starting_logos,
    cast(new_logos as {{ dbt.type_int() }}) as new_logos,
    cast(reactivated_logos as {{ dbt.type_int() }}) as reactivated_logos,
    cast(churned_logos as {{ dbt.type_int() }}) as churned_logos,
    cast(expanded_logos as {{ dbt.type_int() }}) as expanded_logos,
    cast(contracted_logos as {{ dbt.type_int() }}) as contracted_logos,
    cast(ending_logos as {{ dbt.type_int() }}) as ending_logos,
    case when starting_logos > 0 then cast(churned_logos as double) / starting_logos end as logo_churn_rate,
    cast(churned_arr_amount * {{ var('csops_churn_tax')['cac_ratio'] }} as decimal(18, 2))
        as churn_tax_replacement_cac_amount,
    cast(churned_arr_amount * {{ var('csops_churn_tax')['lost_expansion_rate'] }} as decimal(18, 2))
        as churn_tax_lost_expansion_amount,
    cast(
        churned_arr_amount * ({{ var('csops_churn_tax')['cac_ratio'] }} + {{ var('csops_churn_tax')['lost_expansion_rate'] }})
        as decimal(18, 2)
    ) as churn_tax_amount
from joined
