{#
    Handoff versions: one row per opportunity and day a batch delivered it, with which required handoff fields that
    version has. stg_handoffs keeps only the newest version (what the audit shows); the lifecycle history needs to
    know since when a handoff was complete, so this keeps them all. Read from raw for the same reason as
    int_account_versions; the casts mirror stg_handoffs. A field is present when it is not null and, for text, not
    blank. The first version is effective from the beginning of time, later ones from their batch's day.
#}
{{ config(materialized='table') }}

with

source as (

    select * from {{ source('raw', 'handoffs') }}

),

typed as (

    select
        cast(opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(closed_at as {{ dbt.type_timestamp() }}) as opportunity_closed_at,
        coalesce(trim(cast(executive_sponsor as {{ dbt.type_string() }})), '') <> '' as has_executive_sponsor,
        coalesce(trim(cast(champion as {{ dbt.type_string() }})), '') <> '' as has_champion,
        coalesce(trim(cast(success_criteria as {{ dbt.type_string() }})), '') <> '' as has_success_criteria,
        coalesce(trim(cast(use_cases as {{ dbt.type_string() }})), '') <> '' as has_use_cases,
        implementation_deadline is not null as has_implementation_deadline,
        coalesce(trim(cast(pain_points as {{ dbt.type_string() }})), '') <> '' as has_pain_points,
        cast(_batch_file as {{ dbt.type_string() }}) as source_batch_file,
        cast(_batch_modified_at as {{ dbt.type_timestamp() }}) as batch_modified_at,
        cast(_batch_modified_at as date) as batch_modified_on,
        _row_number as batch_row_number
    from source

),

{{ batch_day_versions('typed', 'opportunity_id') }}

select
    opportunity_id,
    cast(version_number as {{ dbt.type_int() }}) as version_number,
    account_id,
    opportunity_closed_at,
    has_executive_sponsor,
    has_champion,
    has_success_criteria,
    has_use_cases,
    has_implementation_deadline,
    has_pain_points,
    has_executive_sponsor and has_champion and has_success_criteria and has_use_cases
        and has_implementation_deadline and has_pain_points as is_complete,
    case when version_number = 1 then cast('1900-01-01' as date) else batch_modified_on end as valid_from_date,
    coalesce(next_version_on, cast('9999-12-31' as date)) as valid_to_date,
    next_version_on is null as is_current_version,
    source_batch_file,
    batch_modified_at
from sequenced
