{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['account_id', 'date_day'],
        on_schema_change='sync_all_columns',
        post_hook=["{{ csops_delete_days_outside_spans(ref('int_feature_account_spans')) }}"],
    )
}}
{%- set windows = [7, 30] %}
{%- set longest_window = windows | max %}
{%- set stored_columns = csops_stored_columns() %}

{#-
    Distinct active users over trailing windows without a per-day self-join. For each (account, user, day) row with
    usage, let `next` be the user's next usage day: on day D the user counts in a W-day window exactly when the last
    usage on or before D is this row, i.e. for D in [day, min(next, day + W)). Each row therefore adds +1 on `day` and
    -1 on min(next, day + W); a running sum of these deltas from any start day S is the distinct-user count on every
    day from S on, once deltas before S are moved onto S. Usage more than W days before S cannot count on S or later,
    so only the usage from S - W on is read.

    The +1s per day are the day's active users (int_feature_usage_account_daily); the -1s are counted per window.
    A full build starts each account at its calendar start. Incremental: an account starts at the first day that can
    differ from what is stored: the earliest usage day among user-days loaded after the newest `loaded_through` the
    table holds (late events of any age included; that value never passes what the last run read, so no load is
    missed), or the first calendar day the table does not hold yet (new days, an earlier calendar start). Days the
    calendar no longer has are deleted by the post-hook. A table stored without `loaded_through` (built by an earlier
    version) is rebuilt whole.
-#}

with

spans as (

    select
        account_id,
        calendar_start_date,
        calendar_end_date
    from {{ ref('int_feature_account_spans') }}
    where calendar_start_date <= calendar_end_date

),

{%- if 'loaded_through' in stored_columns %}

stored as (

    select
        account_id,
        min(date_day) as first_stored_date,
        max(date_day) as last_stored_date,
        max(loaded_through) as loaded_through
    from {{ this }}
    group by account_id

),

watermark as (

    select max(loaded_through) as loaded_through from stored

),

changed_usage as (

    select
        user_days.account_id,
        min(user_days.usage_date) as first_changed_date
    from {{ ref('int_feature_usage_user_daily') }} as user_days
    cross join watermark
    where watermark.loaded_through is null or user_days.loaded_through > watermark.loaded_through
    group by user_days.account_id

),

starts_from as (

    select
        spans.account_id,
        spans.calendar_start_date,
        spans.calendar_end_date,
        case
            when stored.account_id is null or spans.calendar_start_date < stored.first_stored_date
                then spans.calendar_start_date
            -- Null when neither holds: nothing to compute for the account.
            else {{ csops_least([
                'changed_usage.first_changed_date',
                'case when spans.calendar_end_date > stored.last_stored_date then '
                ~ csops_add_days('stored.last_stored_date', 1) ~ ' end',
            ]) }}
        end as first_changed_date
    from spans
    left join stored
        on spans.account_id = stored.account_id
    left join changed_usage
        on spans.account_id = changed_usage.account_id

),

{%- else %}

starts_from as (

    select
        account_id,
        calendar_start_date,
        calendar_end_date,
        calendar_start_date as first_changed_date
    from spans

),

{%- endif %}

-- Accounts with days to compute, from their first changed day (usage before the calendar counts from its start).
recompute as (

    select
        account_id,
        case
            when first_changed_date < calendar_start_date then calendar_start_date else first_changed_date
        end as start_date
    from starts_from
    where first_changed_date <= calendar_end_date

),

-- A bound for every account at once, which lets the scans below skip old row groups when only recent days changed.
first_read as (

    select min({{ csops_add_days('start_date', -longest_window) }}) as usage_date from recompute

),

recent_user_days as (

    select
        user_days.account_id,
        user_days.usage_date,
        lead(user_days.usage_date) over (
            partition by {{ csops_partition_key(['user_days.account_id', 'user_days.user_id']) }}
            order by user_days.usage_date
        ) as next_usage_date
    from {{ ref('int_feature_usage_user_daily') }} as user_days
    inner join recompute
        on user_days.account_id = recompute.account_id
    where
        user_days.user_id is not null
        and user_days.usage_date >= {{ csops_add_days('recompute.start_date', -longest_window) }}
        and user_days.usage_date >= (select usage_date from first_read)

),

starts as (

    select
        usage.account_id,
        case when usage.usage_date < recompute.start_date then recompute.start_date else usage.usage_date end
            as date_day,
        sum(usage.active_users) as users_starting,
        -- When the day's own usage was loaded (not the days moved onto the start): the newest of these in the table
        -- is an incremental run's watermark.
        max(case when usage.usage_date >= recompute.start_date then usage.loaded_through end) as loaded_through
    from {{ ref('int_feature_usage_account_daily') }} as usage
    inner join recompute
        on usage.account_id = recompute.account_id
    where
        usage.usage_date >= {{ csops_add_days('recompute.start_date', -longest_window) }}
        and usage.usage_date >= (select usage_date from first_read)
    group by 1, 2

),

{%- for w in windows %}

ends_{{ w }}d as (

    select
        ends.account_id,
        case when ends.end_date < recompute.start_date then recompute.start_date else ends.end_date end as date_day,
        count(*) as users_ending
    from (
        select
            account_id,
            case
                when next_usage_date is not null and next_usage_date < {{ csops_add_days('usage_date', w) }}
                    then next_usage_date
                else {{ csops_add_days('usage_date', w) }}
            end as end_date
        from recent_user_days
    ) as ends
    inner join recompute
        on ends.account_id = recompute.account_id
    group by 1, 2

),
{%- endfor %}

daily_deltas as (

    select
        calendar.account_id,
        calendar.date_day,
        {%- for w in windows %}
        coalesce(starts.users_starting, 0) - coalesce(ends_{{ w }}d.users_ending, 0) as delta_{{ w }}d,
        {%- endfor %}
        starts.loaded_through
    from {{ ref('int_feature_account_calendar') }} as calendar
    inner join recompute
        on
            calendar.account_id = recompute.account_id
            and calendar.date_day >= recompute.start_date
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
    ) as integer) as active_users_{{ w }}d,
    {%- endfor %}
    loaded_through
from daily_deltas
