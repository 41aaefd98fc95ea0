{{ config(materialized='table') }}
{%- set live_types = var('csops_live_touch_activity_types') %}

{#-
    Everything but usage and contracts, per account and day, only on days where something happened (sparse). Counts
    are dated by when they happened; running-state deltas (contacts) and "latest date" markers are moved forward onto
    the account's calendar start when they happened before it, so a running sum / max over the calendar starts right.
    Open tickets come from a range join on the calendar: one row per day a ticket is open at the end of the day.
-#}

with

spans as (

    select account_id, calendar_start_date from {{ ref('int_feature_account_spans') }}

),

tickets as (

    select
        account_id,
        opened_on,
        cast(closed_at as date) as closed_on,
        priority,
        csat_score
    from {{ ref('stg_support_tickets') }}

),

ticket_opened as (

    select
        account_id,
        opened_on as date_day,
        count(*) as tickets_opened,
        sum(case when priority in ('urgent', 'high') then 1 else 0 end) as urgent_high_tickets_opened,
        cast(null as double) as csat_sum,
        cast(null as integer) as csat_ratings,
        cast(null as integer) as open_tickets,
        cast(null as date) as oldest_open_opened_on,
        cast(null as date) as latest_nps_date,
        cast(null as integer) as touches,
        cast(null as integer) as live_touches,
        cast(null as date) as latest_touch_date,
        cast(null as integer) as champion_delta,
        cast(null as integer) as sponsor_delta,
        cast(null as integer) as champions_left
    from tickets
    group by account_id, opened_on

),

-- A rating counts from the day its ticket closed.
ticket_rated as (

    select
        account_id,
        closed_on as date_day,
        null, null,
        sum(csat_score), count(*),
        null, null, null, null, null, null, null, null, null
    from tickets
    where closed_on is not null and csat_score is not null
    group by account_id, closed_on

),

ticket_open_days as (

    select
        calendar.account_id,
        calendar.date_day,
        null, null, null, null,
        count(*), min(tickets.opened_on),
        null, null, null, null, null, null, null
    from {{ ref('int_feature_account_calendar') }} as calendar
    inner join tickets
        on
            calendar.account_id = tickets.account_id
            and tickets.opened_on <= calendar.date_day
            and (tickets.closed_on is null or tickets.closed_on > calendar.date_day)
    group by calendar.account_id, calendar.date_day

),

nps_answered as (

    select
        nps.account_id,
        case when nps.responded_on < spans.calendar_start_date then spans.calendar_start_date else nps.responded_on end,
        null, null, null, null, null, null,
        max(nps.responded_on),
        null, null, null, null, null, null
    from {{ ref('int_feature_nps_daily') }} as nps
    inner join spans
        on nps.account_id = spans.account_id
    group by 1, 2

),

activity_days as (

    select
        activities.account_id,
        case
            when activities.occurred_on < spans.calendar_start_date then spans.calendar_start_date
            else activities.occurred_on
        end,
        null, null, null, null, null, null, null,
        -- Window counts only see days on the calendar, so activities before its start drop out of them there.
        sum(case when activities.occurred_on >= spans.calendar_start_date then 1 else 0 end),
        sum(
            case
                when activities.occurred_on >= spans.calendar_start_date
                    and activities.activity_type in ({% for t in live_types %}{{ csops_sql_string(t) }}{{ ', ' if not loop.last }}{% endfor %})
                    then 1
                else 0
            end
        ),
        max(activities.occurred_on),
        null, null, null
    from {{ ref('stg_activities') }} as activities
    inner join spans
        on activities.account_id = spans.account_id
    group by 1, 2

),

stakeholder_changes as (

    select
        account_id,
        cast(created_at as date) as change_date,
        contact_role,
        1 as delta
    from {{ ref('stg_contacts') }}
    where contact_role in ('champion', 'executive_sponsor')

    union all

    select
        account_id,
        cast(left_at as date),
        contact_role,
        -1
    from {{ ref('stg_contacts') }}
    where contact_role in ('champion', 'executive_sponsor') and left_at is not null

),

stakeholder_days as (

    select
        changes.account_id,
        case
            when changes.change_date < spans.calendar_start_date then spans.calendar_start_date
            else changes.change_date
        end,
        null, null, null, null, null, null, null, null, null, null,
        sum(case when changes.contact_role = 'champion' then changes.delta else 0 end),
        sum(case when changes.contact_role = 'executive_sponsor' then changes.delta else 0 end),
        sum(
            case
                when changes.contact_role = 'champion' and changes.delta = -1
                    and changes.change_date >= spans.calendar_start_date
                    then 1
                else 0
            end
        )
    from stakeholder_changes as changes
    inner join spans
        on changes.account_id = spans.account_id
    group by 1, 2

),

unioned as (

    select * from ticket_opened
    union all
    select * from ticket_rated
    union all
    select * from ticket_open_days
    union all
    select * from nps_answered
    union all
    select * from activity_days
    union all
    select * from stakeholder_days

)

select
    account_id,
    date_day,
    cast(sum(tickets_opened) as bigint) as tickets_opened,
    cast(sum(urgent_high_tickets_opened) as bigint) as urgent_high_tickets_opened,
    sum(csat_sum) as csat_sum,
    cast(sum(csat_ratings) as bigint) as csat_ratings,
    cast(sum(open_tickets) as bigint) as open_tickets,
    min(oldest_open_opened_on) as oldest_open_opened_on,
    max(latest_nps_date) as latest_nps_date,
    cast(sum(touches) as bigint) as touches,
    cast(sum(live_touches) as bigint) as live_touches,
    max(latest_touch_date) as latest_touch_date,
    cast(sum(champion_delta) as bigint) as champion_delta,
    cast(sum(sponsor_delta) as bigint) as sponsor_delta,
    cast(sum(champions_left) as bigint) as champions_left
from unioned
group by account_id, date_day
