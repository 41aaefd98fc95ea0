with

source as (

    select * from {{ source('raw', 'accounts') }}

),

deduplicated as (

    select * from source
    {{ qualify_newest_batch_version('account_id') }}

),

renamed as (

    select

        ----------  ids
        cast(account_id as {{ dbt.type_string() }}) as account_id,

        ---------- text
        cast(account_name as {{ dbt.type_string() }}) as account_name,
        cast(lower(trim(segment)) as {{ dbt.type_string() }}) as segment,
        cast(industry as {{ dbt.type_string() }}) as industry,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(csm_owner as {{ dbt.type_string() }}) as csm_owner,

        ---------- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,

        ---------- lineage
        cast(_batch_file as {{ dbt.type_string() }}) as source_batch_file,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from deduplicated

)

select * from renamed
