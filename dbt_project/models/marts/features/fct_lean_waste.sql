{{ config(materialized='table') }}
{%- set lean = var('csops_lean') %}
{%- set cv_threshold = lean['mura_cv_threshold'] | float %}
{%- set cv_measure = lean.get('mura_cv_measure', 'excess') %}
{%- if cv_measure not in ['excess', 'raw'] %}
    {{ exceptions.raise_compiler_error("csops_lean.mura_cv_measure must be 'excess' or 'raw'") }}
{%- endif %}
{%- set min_baseline = lean['muri_min_baseline_tickets_30d'] | float %}
{%- set spike_ratio = lean['muri_spike_ratio'] | float %}
{%- set min_tickets = lean['muri_min_tickets_30d'] | float %}
{%- set ratio_at_max = lean['muri_ratio_at_max'] | float %}
{%- set renewal_window = var('csops_renewal_window_days') | int %}
{%- set outside_weight = lean['muri_outside_window_weight'] | float %}
{%- if ratio_at_max <= 1 or min_baseline <= 0 or not (0 <= outside_weight <= 1) %}
    {{ exceptions.raise_compiler_error(
        "csops_lean: needs muri_ratio_at_max > 1, muri_min_baseline_tickets_30d > 0, 0 <= muri_outside_window_weight <= 1"
    ) }}
{%- endif %}

{#-
    Lean waste per active account-day, from fct_account_daily (so point in time like it):
    Muda: licensed seats nobody used in 30 days and what they cost per year at the account's price per seat.
    Mura: erratic usage, the coefficient of variation of daily active users over 8 weeks and the mean absolute
          week-over-week change of weekly user-days.
    Muri: support overburden, the 30-day ticket load against the account's own baseline, weighted up inside the
          renewal window, where a spike hurts most.
-#}

with

daily as (

    select * from {{ ref('fct_account_daily') }}

),

measured as (

    select
        account_id,
        date_day,
        currency_code,
        licensed_seats,
        active_users_30d,
        seat_price,
        case
            when licensed_seats > 0
                then case when licensed_seats > active_users_30d then licensed_seats - active_users_30d else 0 end
        end as unused_seats,
        dau_cv_8w,
        -- Daily counts of a few users vary a lot by chance alone (a Poisson count with mean m has CV 1/sqrt(m)); the
        -- excess CV keeps only the variation above that, so small accounts are not all "erratic".
        case
            when dau_cv_8w is not null and dau_avg_8w > 0
                then round(sqrt(case
                    when dau_cv_8w * dau_cv_8w - 1.0 / dau_avg_8w > 0 then dau_cv_8w * dau_cv_8w - 1.0 / dau_avg_8w
                    else 0.0
                end), 6)
        end as dau_cv_excess_8w,
        dau_wow_change_8w,
        has_support_data,
        tickets_30d,
        tickets_30d_baseline,
        days_to_next_renewal,
        -- Null until the account has a baseline; a near-zero baseline is floored so one ticket is not a spike.
        case
            when tickets_30d_baseline is not null then round(
                cast(tickets_30d as double)
                / case
                    when tickets_30d_baseline > {{ min_baseline }} then tickets_30d_baseline else {{ min_baseline }}
                end,
                6
            )
        end as support_load_ratio
    from daily

)

select
    account_id,
    date_day,
    currency_code,

    ---------- Muda: unused licensed seats
    licensed_seats,
    active_users_30d,
    unused_seats,
    round({{ csops_safe_divide('unused_seats', 'licensed_seats') }}, 6) as unused_seat_share,
    seat_price,
    round(unused_seats * seat_price, 2) as unused_seat_cost_per_year,

    ---------- Mura: erratic usage
    dau_cv_8w,
    dau_cv_excess_8w,
    dau_wow_change_8w,
    {%- set cv_column = 'dau_cv_excess_8w' if cv_measure == 'excess' else 'dau_cv_8w' %}
    case when {{ cv_column }} is not null then {{ cv_column }} > {{ cv_threshold }} end as is_erratic,

    ---------- Muri: support overburden near renewal
    has_support_data,
    tickets_30d,
    tickets_30d_baseline,
    support_load_ratio,
    days_to_next_renewal,
    days_to_next_renewal <= {{ renewal_window }} as is_in_renewal_window,
    case
        when support_load_ratio is not null
            then support_load_ratio >= {{ spike_ratio }} and tickets_30d >= {{ min_tickets }}
    end as is_support_spike,
    case
        when support_load_ratio is null then null
        when tickets_30d < {{ min_tickets }} then 0.0
        else round(
            100.0
            * {{ csops_least([
                '1.0', csops_greatest(['0.0', '(support_load_ratio - 1.0) / ' ~ (ratio_at_max - 1.0)])
            ]) }}
            * case when days_to_next_renewal <= {{ renewal_window }} then 1.0 else {{ outside_weight }} end,
            2
        )
    end as muri_score
from measured
