with

-- A fact: ingest already dropped repeated event_ids, so no deduplication window over the largest table.
source as (

    select * from {{ source('raw', 'usage_events') }}

),

renamed as (

    select

        ----------  ids
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,

        ---------- text
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        cast(feature as {{ dbt.type_string() }}) as feature,

        ---------- numerics
        cast(coalesce(quantity, 1) as double) as quantity,

        ---------- dates
        cast(occurred_at as date) as occurred_on,

        ---------- timestamps
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,

        ---------- lineage
        cast(_batch_file as {{ dbt.type_string() }}) as source_batch_file,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

)

select * from renamed
