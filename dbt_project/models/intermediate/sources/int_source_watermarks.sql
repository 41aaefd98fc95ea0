{#
    Per landing source: the last day its data is complete through (the watermark), and whether it holds the as-of date
    back. Every model that needs "the last day of data" takes the minimum watermark of the required sources (macro
    csops_watermark_as_of), not the last day any source has rows: a contracts export a month behind the usage events
    would otherwise leave every account whose renewal is in the missing month without a contract (pending renewal,
    not scored).
    - usage_events, support_tickets, survey_responses, activities: the latest day an event happened.
    - contracts: the day the newest contracts batch landed (file modification time). A contract row's own dates say
      nothing about completeness: renewals are signed ahead and start in the future.
    An optional source with no rows has no watermark and never holds the as-of date back.
#}
{{ config(materialized='table') }}

with

watermarks as (

    select
        'usage_events' as source_name,
        true as is_required,
        count(*) as row_count,
        max(occurred_on) as watermark_date
    from {{ ref('stg_usage_events') }}

    union all

    select
        'contracts' as source_name,
        true as is_required,
        count(*) as row_count,
        cast(max(batch_modified_at) as date) as watermark_date
    from {{ ref('stg_contracts') }}

    union all

    select
        'support_tickets' as source_name,
        false as is_required,
        count(*) as row_count,
        max(opened_on) as watermark_date
    from {{ ref('stg_support_tickets') }}

    union all

    select
        'survey_responses' as source_name,
        false as is_required,
        count(*) as row_count,
        max(responded_on) as watermark_date
    from {{ ref('stg_survey_responses') }}

    union all

    select
        'activities' as source_name,
        false as is_required,
        count(*) as row_count,
        max(occurred_on) as watermark_date
    from {{ ref('stg_activities') }}

)

select
    source_name,
    is_required,
    row_count,
    watermark_date,
    is_required and row_count > 0 as holds_as_of
from watermarks
