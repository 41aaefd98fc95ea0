with

source as (

    select * from {{ source('raw', 'support_tickets') }}

),

deduplicated as (

    select * from source
    {{ qualify_newest_batch_version('ticket_id') }}

),

renamed as (

    select

        ----------  ids
        cast(ticket_id as {{ dbt.type_string() }}) as ticket_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,

        ---------- text
        cast(lower(trim(priority)) as {{ dbt.type_string() }}) as priority,
        cast(category as {{ dbt.type_string() }}) as category,
        cast(lower(trim(status)) as {{ dbt.type_string() }}) as status,
        cast(subject as {{ dbt.type_string() }}) as subject,
        cast(body as {{ dbt.type_string() }}) as body,

        ---------- numerics
        cast(csat as {{ dbt.type_int() }}) as csat_score,

        ---------- booleans
        -- Help-desk status words vary by tool; a ticket is open until it has a close time.
        closed_at is null as is_open,

        ---------- dates
        cast(opened_at as date) as opened_on,

        ---------- timestamps
        cast(opened_at as {{ dbt.type_timestamp() }}) as opened_at,
        cast(closed_at as {{ dbt.type_timestamp() }}) as closed_at,

        ---------- lineage
        cast(_batch_file as {{ dbt.type_string() }}) as source_batch_file,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from deduplicated

)

select * from renamed
