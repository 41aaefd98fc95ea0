with

source as (

    select * from {{ source('raw', 'contracts') }}

),

deduplicated as (

    select * from source
    {{ qualify_newest_batch_version('contract_id') }}

),

renamed as (

    select

        ----------  ids
        cast(contract_id as {{ dbt.type_string() }}) as contract_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,

        ---------- text
        cast(product as {{ dbt.type_string() }}) as product,
        cast(coalesce(upper(nullif(trim(currency), '')), 'USD') as {{ dbt.type_string() }}) as currency_code,

        ---------- numerics
        cast(arr as decimal(18, 2)) as arr_amount,
        cast(licensed_seats as {{ dbt.type_int() }}) as licensed_seats,
        -- Null without seats rather than a division by zero.
        case
            when licensed_seats > 0 then cast(arr / licensed_seats as decimal(18, 2))
        end as seat_price_amount,
        cast({{ dbt.datediff('start_date', 'end_date', 'day') }} as {{ dbt.type_int() }}) as contract_term_days,

        ---------- dates
        cast(start_date as date) as start_date,
        -- Exclusive: the first day the contract no longer covers.
        cast(end_date as date) as end_date,

        ---------- lineage
        cast(_batch_file as {{ dbt.type_string() }}) as source_batch_file,
        cast(_batch_modified_at as {{ dbt.type_timestamp() }}) as batch_modified_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from deduplicated

)

select * from renamed
