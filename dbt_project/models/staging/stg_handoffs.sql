with

source as (

    select * from {{ source('raw', 'handoffs') }}

),

deduplicated as (

    select * from source
    {{ qualify_newest_batch_version('opportunity_id') }}

),

renamed as (

    select

        ----------  ids
        -- Kept as opportunity_id: it is the CRM's id and joins to it; there is one handoff per opportunity.
        cast(opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,

        ---------- text
        cast(executive_sponsor as {{ dbt.type_string() }}) as executive_sponsor_name,
        cast(champion as {{ dbt.type_string() }}) as champion_name,
        cast(success_criteria as {{ dbt.type_string() }}) as success_criteria,
        cast(use_cases as {{ dbt.type_string() }}) as use_cases,
        cast(pain_points as {{ dbt.type_string() }}) as pain_points,
        cast(notes as {{ dbt.type_string() }}) as notes,

        ---------- dates
        cast(implementation_deadline as date) as implementation_deadline_date,

        ---------- timestamps
        cast(closed_at as {{ dbt.type_timestamp() }}) as opportunity_closed_at,

        ---------- lineage
        cast(_batch_file as {{ dbt.type_string() }}) as source_batch_file,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from deduplicated

)

select * from renamed
