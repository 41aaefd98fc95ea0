{#
    Account attributes as they changed over the accounts batches. stg_accounts keeps only the newest version; events
    need the segment and CSM owner as of their date. Read from raw because the history is exactly what staging
    deduplicates away; the casts and normalisation mirror stg_accounts.

    A version is effective from the day of its batch's modification time; the first version of an account is
    effective from the beginning of time (the first export is the earliest knowledge we have). Several versions on the
    same day collapse to the newest (contract v1 order: modification time, file name, row number).
#}
{{ config(materialized='table') }}

with

source as (

    select * from {{ source('raw', 'accounts') }}

),

typed as (

    select
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(account_name as {{ dbt.type_string() }}) as account_name,
        cast(lower(trim(segment)) as {{ dbt.type_string() }}) as segment,
        cast(csm_owner as {{ dbt.type_string() }}) as csm_owner,
        cast(_batch_file as {{ dbt.type_string() }}) as source_batch_file,
        cast(_batch_modified_at as {{ dbt.type_timestamp() }}) as batch_modified_at,
        cast(_batch_modified_at as date) as batch_modified_on,
        _row_number as batch_row_number
    from source

),

{{ batch_day_versions('typed', 'account_id') }}

select
    account_id,
    version_number,
    account_name,
    segment,
    csm_owner,
    case when version_number = 1 then cast('1900-01-01' as date) else batch_modified_on end as valid_from_date,
    coalesce(next_version_on, cast('9999-12-31' as date)) as valid_to_date,
    next_version_on is null as is_current_version,
    source_batch_file,
    batch_modified_at
from sequenced
