{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['account_id', 'date_day'],
        on_schema_change='fail',
        post_hook=[
            "{{ csops_delete_rows_missing_from(ref('int_feature_account_calendar'), 'upstream_rows.is_active') }}"
        ],
    )
}}
{%- set categories = csops_feature_categories() %}
{%- set lookback_days = var('csops_incremental_lookback_days') | int %}
{%- set ttv = var('csops_time_to_value') %}
{%- set seat_share = ttv.get('seat_activation_share', 0.5) | float %}
{%- set requires_key_event = ttv.get('requires_key_event', true) %}
{%- set baseline_days = var('csops_lean')['muri_baseline_days'] | int %}
{%- if lookback_days < 1 or not (0 < seat_share <= 1) or baseline_days < 30 %}
    {{ exceptions.raise_compiler_error(
        "fct_account_daily: needs csops_incremental_lookback_days >= 1, 0 < seat_activation_share <= 1 and "
        ~ "csops_lean.muri_baseline_days >= 30"
    ) }}
{%- endif %}
{%- set by_account = "partition by account_id order by date_day" %}
{%- set to_date = by_account ~ " rows between unbounded preceding and current row" %}

{#-
    One row per account per day on which a contract covers the account, from the data start date to the as-of date.
    Point in time: every column of day D reads only rows dated on or before D (events, tickets by open/close date,
    answers, activities, contacts by join/leave date, contracts that had started) through trailing windows over the
    account's gap-free calendar, never later rows, so a rebuild later gives the same values for D.
-#}

with

bounds as (

    select * from {{ ref('int_feature_calendar_bounds') }}

),

joined as (

    select
        calendar.account_id,
        calendar.date_day,
        calendar.is_active,
        calendar.first_contract_start_date,
        calendar.active_contracts,
        calendar.active_products,
        calendar.active_arr,
        calendar.licensed_seats,
        calendar.seat_based_seats,
        calendar.seat_based_arr,
        calendar.next_renewal_date,
        calendar.currency_code,
        coalesce(usage.active_users, 0) as active_users_1d,
        coalesce(usage.event_count, 0) as events_1d,
        coalesce(usage.key_value_event_count, 0) as key_value_events_1d,
        {%- for category in categories %}
        coalesce(usage.events_{{ category }}, 0) as events_{{ category }}_1d,
        {%- endfor %}
        users.active_users_7d,
        users.active_users_30d,
        coalesce(signals.tickets_opened, 0) as tickets_opened_1d,
        coalesce(signals.urgent_high_tickets_opened, 0) as urgent_high_tickets_opened_1d,
        coalesce(signals.csat_sum, 0) as csat_sum_1d,
        coalesce(signals.csat_ratings, 0) as csat_ratings_1d,
        coalesce(signals.open_tickets, 0) as open_tickets,
        signals.oldest_open_opened_on,
        signals.latest_nps_date as nps_answered_marker,
        coalesce(signals.touches, 0) as touches_1d,
        coalesce(signals.live_touches, 0) as live_touches_1d,
        signals.latest_touch_date as touch_marker,
        coalesce(signals.champion_delta, 0) as champion_delta,
        coalesce(signals.sponsor_delta, 0) as sponsor_delta,
        coalesce(signals.champions_left, 0) as champions_left_1d
    from {{ ref('int_feature_account_calendar') }} as calendar
    left join {{ ref('int_feature_usage_account_daily') }} as usage
        on
            calendar.account_id = usage.account_id
            and calendar.date_day = usage.usage_date
    left join {{ ref('int_feature_active_users') }} as users
        on
            calendar.account_id = users.account_id
            and calendar.date_day = users.date_day
    left join {{ ref('int_feature_signals_daily') }} as signals
        on
            calendar.account_id = signals.account_id
            and calendar.date_day = signals.date_day

),

-- Trailing windows over the gap-free calendar: `rows between N preceding` is exactly N days.
{%- set trailing_sums = [
    ('events_1d', 30, 'events_30d'),
    ('key_value_events_1d', 30, 'key_value_events_30d'),
    ('events_1d', 28, 'events_28d'),
    ('tickets_opened_1d', 30, 'tickets_30d'),
    ('tickets_opened_1d', 90, 'tickets_90d'),
    ('urgent_high_tickets_opened_1d', 90, 'urgent_high_tickets_90d'),
    ('csat_ratings_1d', 90, 'csat_ratings_90d'),
    ('touches_1d', 90, 'touches_90d'),
    ('live_touches_1d', 90, 'live_touches_90d'),
    ('champions_left_1d', 90, 'champions_left_90d'),
    ('active_users_1d', 56, 'dau_sum_56d'),
    ('active_users_1d * active_users_1d', 56, 'dau_sq_sum_56d'),
    ('active_users_1d', 7, 'user_days_7d'),
] %}
{%- for category in categories %}
    {%- do trailing_sums.append(('events_' ~ category ~ '_1d', 30, 'events_30d_' ~ category)) %}
{%- endfor %}
windowed as (

    select
        joined.*,
        {%- for expression, days, name in trailing_sums %}
        cast(sum({{ expression }}) over ({{ by_account }} rows between {{ days - 1 }} preceding and current row) as bigint)
            as {{ name }},
        {%- endfor %}
        cast(sum(events_1d) over ({{ by_account }} rows between 55 preceding and 28 preceding) as bigint)
            as events_prior_28d,
        sum(csat_sum_1d) over ({{ by_account }} rows between 89 preceding and current row) as csat_sum_90d,
        cast(sum(tickets_opened_1d) over (
            {{ by_account }} rows between {{ baseline_days + 29 }} preceding and 30 preceding
        ) as bigint) as baseline_tickets,
        -- Calendar days up to this one: how much history the windows above had.
        row_number() over ({{ by_account }}) as calendar_day_number,
        max(case when events_1d > 0 then date_day end) over ({{ to_date }}) as last_use_date,
        max(nps_answered_marker) over ({{ to_date }}) as latest_nps_date,
        max(touch_marker) over ({{ to_date }}) as last_touch_date,
        -- Key-value events count for time-to-value from the first day the data has one (seed maps the product's names).
        coalesce(bounds.first_key_value_event_date <= date_day, false) as key_value_events_seen,
        cast(sum(champion_delta) over ({{ to_date }}) as bigint) as champions_present,
        cast(sum(sponsor_delta) over ({{ to_date }}) as bigint) as sponsors_present
    from joined
    cross join bounds

),

-- Week-over-week: user-days of the 8 weeks ending today, one lag per week.
weekly as (

    select
        windowed.*,
        {%- for week in range(1, 8) %}
        lag(user_days_7d, {{ 7 * week }}) over ({{ by_account }}) as user_days_7d_lag_{{ week }},
        {%- endfor %}
        case when calendar_day_number >= 56 then 56 else calendar_day_number end as dau_days_56d,
        case
            when calendar_day_number <= 30 then 0
            when calendar_day_number - 30 >= {{ baseline_days }} then {{ baseline_days }}
            else calendar_day_number - 30
        end as baseline_days,
        -- First time-to-value (var csops_time_to_value), evaluated on active days only.
        min(
            case
                when is_active and (
                    {%- if requires_key_event %}
                    case
                        when licensed_seats > 0
                            then active_users_30d >= {{ seat_share }} * licensed_seats
                            and (key_value_events_30d > 0 or not key_value_events_seen)
                        when key_value_events_seen then key_value_events_30d > 0
                        else false
                    end
                    {%- else %}
                    coalesce(licensed_seats > 0 and active_users_30d >= {{ seat_share }} * licensed_seats, false)
                    {%- endif %}
                ) then date_day
            end
        ) over ({{ to_date }}) as first_value_date
    from windowed

),

final as (

    select
        weekly.account_id,
        weekly.date_day,

        ---------- usage
        weekly.active_users_1d,
        weekly.active_users_7d,
        weekly.active_users_30d,
        weekly.events_1d,
        weekly.events_30d,
        {%- for category in categories %}
        weekly.events_30d_{{ category }},
        {%- endfor %}
        weekly.key_value_events_30d,
        (
            {%- for category in categories %}
            case when weekly.events_30d_{{ category }} > 0 then 1 else 0 end{{ ' +' if not loop.last }}
            {%- endfor %}
        ) as feature_categories_used_30d,
        round({{ csops_safe_divide('weekly.events_28d', 'weekly.events_prior_28d') }}, 6) as usage_trend_28d,
        {{ csops_days_between('weekly.last_use_date', 'weekly.date_day') }} as days_since_last_use,
        round(
            case
                when weekly.licensed_seats > 0
                    then {{ csops_safe_divide('weekly.active_users_30d', 'weekly.licensed_seats') }}
            end,
            6
        ) as seat_utilization,
        weekly.first_value_date,
        case
            when weekly.first_contract_start_date >= bounds.data_start_date
                then {{ csops_days_between('weekly.first_contract_start_date', 'weekly.first_value_date') }}
        end as days_to_first_value,
        round(
            case
                when weekly.dau_days_56d = 56 and weekly.dau_sum_56d > 0
                    then sqrt({{ csops_greatest([
                        'weekly.dau_sq_sum_56d / 56.0 - (weekly.dau_sum_56d / 56.0) * (weekly.dau_sum_56d / 56.0)',
                        '0.0',
                    ]) }}) / (weekly.dau_sum_56d / 56.0)
            end,
            6
        ) as dau_cv_8w,
        round(case when weekly.dau_days_56d = 56 then weekly.dau_sum_56d / 56.0 end, 6) as dau_avg_8w,
        round(
            case
                when weekly.dau_days_56d = 56 and weekly.user_days_7d_lag_7 is not null and weekly.dau_sum_56d > 0
                    then (
                        abs(weekly.user_days_7d - weekly.user_days_7d_lag_1)
                        {%- for week in range(1, 7) %}
                        + abs(weekly.user_days_7d_lag_{{ week }} - weekly.user_days_7d_lag_{{ week + 1 }})
                        {%- endfor %}
                    ) / 7.0 / (weekly.dau_sum_56d / 8.0)
            end,
            6
        ) as dau_wow_change_8w,

        ---------- contract
        weekly.currency_code,
        weekly.active_arr,
        weekly.licensed_seats,
        round({{ csops_safe_divide('weekly.seat_based_arr', 'weekly.seat_based_seats') }}, 6) as seat_price,
        weekly.active_contracts,
        weekly.active_products,
        weekly.next_renewal_date,
        {{ csops_days_between('weekly.date_day', 'weekly.next_renewal_date') }} as days_to_next_renewal,
        weekly.first_contract_start_date,
        {{ csops_days_between('weekly.first_contract_start_date', 'weekly.date_day') }} as tenure_days,

        ---------- support
        coalesce(bounds.support_data_start_date <= weekly.date_day, false) as has_support_data,
        case when bounds.support_data_start_date <= weekly.date_day then weekly.tickets_30d end as tickets_30d,
        case when bounds.support_data_start_date <= weekly.date_day then weekly.tickets_90d end as tickets_90d,
        case
            when bounds.support_data_start_date <= weekly.date_day then weekly.urgent_high_tickets_90d
        end as urgent_high_tickets_90d,
        case when bounds.support_data_start_date <= weekly.date_day then weekly.open_tickets end as open_tickets,
        case
            when bounds.support_data_start_date <= weekly.date_day
                then {{ csops_days_between('weekly.oldest_open_opened_on', 'weekly.date_day') }}
        end as oldest_open_ticket_age_days,
        case
            when bounds.support_data_start_date <= weekly.date_day
                then round({{ csops_safe_divide('weekly.csat_sum_90d', 'weekly.csat_ratings_90d') }}, 6)
        end as csat_avg_90d,
        case
            when bounds.support_data_start_date <= weekly.date_day then weekly.csat_ratings_90d
        end as csat_ratings_90d,
        case
            when bounds.support_data_start_date <= weekly.date_day and weekly.baseline_days >= {{ baseline_days // 2 }}
                then round(weekly.baseline_tickets * 30.0 / weekly.baseline_days, 6)
        end as tickets_30d_baseline,

        ---------- survey
        coalesce(bounds.survey_data_start_date <= weekly.date_day, false) as has_survey_data,
        nps.nps_score as latest_nps_score,
        weekly.latest_nps_date,
        {{ csops_days_between('weekly.latest_nps_date', 'weekly.date_day') }} as days_since_latest_nps,
        round(nps.nps_score - nps.previous_nps_score, 6) as nps_trend,

        ---------- engagement
        coalesce(bounds.engagement_data_start_date <= weekly.date_day, false) as has_engagement_data,
        {{ csops_days_between('weekly.last_touch_date', 'weekly.date_day') }} as days_since_last_touch,
        case when bounds.engagement_data_start_date <= weekly.date_day then weekly.live_touches_90d end
            as live_touches_90d,
        case when bounds.engagement_data_start_date <= weekly.date_day then weekly.touches_90d end as touches_90d,

        ---------- stakeholders
        coalesce(bounds.stakeholder_data_start_date <= weekly.date_day, false) as has_stakeholder_data,
        case when bounds.stakeholder_data_start_date <= weekly.date_day then weekly.champions_present > 0 end
            as has_champion,
        case when bounds.stakeholder_data_start_date <= weekly.date_day then weekly.sponsors_present > 0 end
            as has_executive_sponsor,
        case when bounds.stakeholder_data_start_date <= weekly.date_day then weekly.champions_left_90d > 0 end
            as champion_left_90d

    from weekly
    cross join bounds
    left join {{ ref('int_feature_nps_daily') }} as nps
        on
            weekly.account_id = nps.account_id
            and weekly.latest_nps_date = nps.responded_on
    where weekly.is_active

)

{% if is_incremental() %}
{#-
    Rewrite the last `csops_incremental_lookback_days` days, new rows, and every older row whose recomputed values
    differ from the stored ones: late events, late answers and corrected tickets can reach back further than any fixed
    lookback, and this keeps an incremental run equal to a full refresh. Stored rows of days that are no longer active
    (a contract cut short by a later batch, an earlier as-of date) are deleted by the post-hook.
-#}
{%- set compare_columns = [] %}
{%- for column in adapter.get_columns_in_relation(this) %}
    {%- if column.name | lower not in ['account_id', 'date_day'] %}
        {%- do compare_columns.append(column.name | lower) %}
    {%- endif %}
{%- endfor %}

select final.*
from final
cross join bounds
left join {{ this }} as existing
    on
        final.account_id = existing.account_id
        and final.date_day = existing.date_day
where
    existing.account_id is null
    or final.date_day > {{ csops_add_days('bounds.as_of_date', -lookback_days) }}
    or not (
        {%- for column in compare_columns %}
        final.{{ column }} is not distinct from existing.{{ column }}{{ ' and' if not loop.last }}
        {%- endfor %}
    )

{% else %}

select * from final

{% endif %}
