{{ config(materialized='table') }}
{%- set windows = [7, 30] %}

{#-
    Distinct active users over trailing windows without a per-day self-join. For each (account, user, day) row with
    usage, let `next` be the user's next usage day: on day D the user counts in a W-day window exactly when the last
    usage on or before D is this row, i.e. for D in [day, min(next, day + W)). Each row therefore adds +1 on `day` and
    -1 on min(next, day + W); a running sum of these deltas over the account's calendar is the distinct-user count.
    The +1s per day are the day's active users (int_feature_usage_account_daily); the -1s are counted per window.
    Deltas before the calendar start are moved onto it, which keeps the running sum right from the first row.
-#}

with

spans as (

    select account_id, calendar_start_date from {{ ref('int_feature_account_spans') }}

),

user_days as (

    select
        account_id,
        usage_date,
        lead(usage_date) over (
            partition by {{ csops_partition_key(['account_id', 'user_id']) }} order by usage_date
        ) as next_usage_date
    from {{ ref('int_feature_usage_user_daily') }}
    where user_id is not null

),

starts as (

    select
        usage.account_id,
        case
            when usage.usage_date < spans.calendar_start_date then spans.calendar_start_date else usage.usage_date
        end as date_day,
        sum(usage.active_users) as users_starting
    from {{ ref('int_feature_usage_account_daily') }} as usage
    inner join spans
        on usage.account_id = spans.account_id
    group by 1, 2

),

{%- for w in windows %}

ends_{{ w }}d as (

    select
        ends.account_id,
        case when ends.end_date < spans.calendar_start_date then spans.calendar_start_date else ends.end_date end
            as date_day,
        count(*) as users_ending
    from (
        select
            account_id,
            case
                when next_usage_date is not null and next_usage_date < {{ csops_add_days('usage_date', w) }}
                    then next_usage_date
                else {{ csops_add_days('usage_date', w) }}
            end as end_date
        from user_days
    ) as ends
    inner join spans
        on ends.account_id = spans.account_id
    group by 1, 2

),
{%- endfor %}

daily_deltas as (

    select
        calendar.account_id,
        calendar.date_day,
        {%- for w in windows %}
        coalesce(starts.users_starting, 0) - coalesce(ends_{{ w }}d.users_ending, 0) as delta_{{ w }}d{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('int_feature_account_calendar') }} as calendar
    left join starts
        on
            calendar.account_id = starts.account_id
            and calendar.date_day = starts.date_day
    {%- for w in windows %}
    left join ends_{{ w }}d
        on
            calendar.account_id = ends_{{ w }}d.account_id
            and calendar.date_day = ends_{{ w }}d.date_day
    {%- endfor %}

)

select
    account_id,
    date_day,
    {%- for w in windows %}
    cast(sum(delta_{{ w }}d) over (
        partition by account_id order by date_day rows between unbounded preceding and current row
    ) as integer) as active_users_{{ w }}d{{ ',' if not loop.last }}
    {%- endfor %}
from daily_deltas
