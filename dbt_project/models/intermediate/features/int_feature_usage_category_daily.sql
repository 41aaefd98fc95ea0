{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['account_id', 'usage_date'],
        on_schema_change='fail',
    )
}}
{%- set categories = csops_feature_categories() %}

{#-
    Usage per account, day and feature category, with product vocabulary as config (seed feature_categories): an
    event's `event_type` row wins over its `feature` row, unmapped events are `other`, and an event is a key-value
    event when either row flags it. Names are mapped once per distinct (event_type, feature) pair, then joined back,
    so the events pay one hash probe. Incremental like int_feature_usage_user_daily; a changed seed (new
    `mapping_version`) re-aggregates everything.
-#}

with

category_map as (

    select
        lower(trim(match_column)) as match_column,
        lower(trim(match_value)) as match_value,
        lower(trim(feature_category)) as feature_category,
        coalesce(is_key_value_event, false) as is_key_value_event
    from {{ ref('feature_categories') }}

),

-- At most one category per name (a name listed twice under two categories takes the first alphabetically); a
-- category outside the vocabulary counts as `other` (the seed's accepted_values test fails on it anyway).
map_by_name as (

    select
        match_column,
        match_value,
        case
            when min(feature_category) in ({% for c in categories %}'{{ c }}'{{ ', ' if not loop.last }}{% endfor %})
                then min(feature_category)
            else 'other'
        end as feature_category,
        max(case when is_key_value_event then 1 else 0 end) as is_key_value_event
    from category_map
    group by match_column, match_value

),

mapping_version as (

    select
        {{ dbt.hash(dbt.listagg(
            dbt.concat(["match_column", "'|'", "match_value", "'|'", "feature_category", "'|'",
                        dbt.cast_bool_to_text("is_key_value_event")]),
            "';'",
            "order by match_column, match_value, feature_category",
        )) }} as mapping_version
    from category_map

),

{{ csops_usage_events_to_aggregate(
    extra_watermark_columns='max(mapping_version) as mapping_version',
    extra_refresh_condition='watermark.mapping_version <> (select mapping_version from mapping_version)',
) }},

-- From the staging view, not from `events`: a CTE read twice is materialized whole (35M events at scale), which
-- took longer than this second scan of two dictionary-encoded columns.
names as (

    select distinct
        event_type,
        coalesce(feature, '') as feature_key
    from {{ ref('stg_usage_events') }}

),

named as (

    select
        names.event_type,
        names.feature_key,
        coalesce(by_event_type.feature_category, by_feature.feature_category, 'other') as feature_category,
        coalesce(by_event_type.is_key_value_event, 0) = 1
        or coalesce(by_feature.is_key_value_event, 0) = 1 as is_key_value_event
    from names
    left join map_by_name as by_event_type
        on
            by_event_type.match_column = 'event_type'
            and lower(names.event_type) = by_event_type.match_value
    left join map_by_name as by_feature
        on
            by_feature.match_column = 'feature'
            and lower(names.feature_key) = by_feature.match_value

)

select
    events.account_id,
    events.occurred_on as usage_date,
    named.feature_category,
    count(*) as event_count,
    cast(sum(case when named.is_key_value_event then 1 else 0 end) as bigint) as key_value_event_count,
    max(events.loaded_at) as loaded_through,
    max(mapping_version.mapping_version) as mapping_version
from events
inner join named
    on
        events.event_type = named.event_type
        and coalesce(events.feature, '') = named.feature_key
cross join mapping_version
group by events.account_id, events.occurred_on, named.feature_category
