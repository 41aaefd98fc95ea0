with

-- A fact: ingest already dropped repeated response_ids.
source as (

    select * from {{ source('raw', 'survey_responses') }}

),

renamed as (

    select

        ----------  ids
        cast(response_id as {{ dbt.type_string() }}) as response_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,

        ---------- text
        cast(lower(trim(survey)) as {{ dbt.type_string() }}) as survey_type,
        -- Standard NPS buckets, so marts count promoters and detractors the same way.
        cast(
            case
                when lower(trim(survey)) = 'nps' then
                    case
                        when score >= 9 then 'promoter'
                        when score >= 7 then 'passive'
                        else 'detractor'
                    end
            end as {{ dbt.type_string() }}
        ) as nps_category,
        cast(comment as {{ dbt.type_string() }}) as comment,

        ---------- numerics
        cast(score as {{ dbt.type_int() }}) as score,

        ---------- dates
        cast(responded_at as date) as responded_on,

        ---------- timestamps
        cast(responded_at as {{ dbt.type_timestamp() }}) as responded_at,

        ---------- lineage
        cast(_batch_file as {{ dbt.type_string() }}) as source_batch_file,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

)

select * from renamed
