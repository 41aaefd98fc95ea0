with

-- A fact: ingest already dropped repeated activity_ids.
source as (

    select * from {{ source('raw', 'activities') }}

),

renamed as (

    select

        ----------  ids
        cast(activity_id as {{ dbt.type_string() }}) as activity_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,

        ---------- text
        cast(lower(trim(activity_type)) as {{ dbt.type_string() }}) as activity_type,
        cast(owner as {{ dbt.type_string() }}) as owner,
        cast(notes as {{ dbt.type_string() }}) as notes,

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
