{#
    Month spine for the revenue models: one row per calendar month from the month of the earliest contract start (or
    the data window start, when earlier) to the month of the as-of date. A fixed 1,200-month series (100 years) keeps
    it free of data-dependent compile-time queries; a test on int_revenue_bounds fails if history ever outgrows it.
#}
{{ config(materialized='table') }}

with

bounds as (

    select * from {{ ref('int_revenue_bounds') }}

),

numbers as (

    {{ dbt.generate_series(1200) }}

),

first_month as (

    select
        cast({{ dbt.date_trunc('month', 'case when first_contract_start_date < data_window_start_date then first_contract_start_date else data_window_start_date end') }} as date) as first_month_start_date,
        as_of_month_start_date,
        as_of_date,
        data_window_start_date
    from bounds
    where as_of_date is not null

),

months as (

    select
        cast({{ dbt.dateadd('month', 'numbers.generated_number - 1', 'first_month.first_month_start_date') }} as date)
            as month_start_date,
        first_month.as_of_date,
        first_month.as_of_month_start_date,
        first_month.data_window_start_date
    from first_month
    cross join numbers

)

select
    month_start_date,
    cast({{ dbt.last_day('month_start_date', 'month') }} as date) as month_end_date,
    -- Month-end, or the as-of date in the current (partial) month: the day ARR is measured on.
    case
        when month_start_date = as_of_month_start_date then as_of_date
        else cast({{ dbt.last_day('month_start_date', 'month') }} as date)
    end as snapshot_date,
    month_start_date = as_of_month_start_date as is_partial_month,
    month_start_date >= data_window_start_date as is_within_data_window
from months
where month_start_date <= as_of_month_start_date
