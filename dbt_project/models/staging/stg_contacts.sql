with

source as (

    select * from {{ source('raw', 'contacts') }}

),

deduplicated as (

    select * from source
    {{ qualify_newest_batch_version('contact_id') }}

),

renamed as (

    select

        ----------  ids
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,

        ---------- text
        cast(name as {{ dbt.type_string() }}) as contact_name,
        cast(lower(trim(email)) as {{ dbt.type_string() }}) as email,
        cast(title as {{ dbt.type_string() }}) as job_title,
        cast(lower(trim(role)) as {{ dbt.type_string() }}) as contact_role,

        ---------- booleans
        left_at is null as is_active_contact,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(left_at as {{ dbt.type_timestamp() }}) as left_at,

        ---------- lineage
        cast(_batch_file as {{ dbt.type_string() }}) as source_batch_file,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from deduplicated

)

select * from renamed
