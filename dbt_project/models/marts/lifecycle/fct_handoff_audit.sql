{#
    Sales-to-CS handoff audit: one row per new account (created inside the data window) with
    its new-logo handoff, i.e. the account's earliest opportunity. Evaluated on the newest version of the handoff
    (stg_handoffs) on every run, so a later batch that fills a field closes its task; new accounts without any
    handoff row are listed with every field missing. Expansion opportunities of existing accounts are not audited.
#}

with

onboarding as (

    select * from {{ ref('int_account_onboarding') }}
    where is_new_account

),

accounts as (

    select * from {{ ref('stg_accounts') }}

),

handoffs as (

    select * from {{ ref('stg_handoffs') }}

),

versions as (

    select * from {{ ref('int_handoff_versions') }}

),

bounds as (

    select * from {{ ref('int_revenue_bounds') }}

),

version_stats as (

    select
        opportunity_id,
        count(*) as handoff_version_count,
        min(batch_modified_at) as first_received_at
    from versions
    group by 1

),

-- Since when the handoff has been complete: the start of its last run of complete versions.
ready_since as (

    select
        opportunity_id,
        min(batch_modified_at) as ready_since_at
    from versions as complete_version
    where is_complete
        and not exists (
            select 1
            from versions as later
            where later.opportunity_id = complete_version.opportunity_id
                and later.version_number > complete_version.version_number
                and not later.is_complete
        )
    group by 1

),

fields as (

    select
        onboarding.account_id,
        onboarding.new_logo_opportunity_id as opportunity_id,
        handoffs.opportunity_closed_at,
        handoffs.implementation_deadline_date,
        handoffs.source_batch_file,
        onboarding.created_at as account_created_at,
        onboarding.first_contract_start_date,
        handoffs.opportunity_id is not null as has_handoff,
        coalesce(trim(handoffs.executive_sponsor_name), '') <> '' as has_executive_sponsor,
        coalesce(trim(handoffs.champion_name), '') <> '' as has_champion,
        coalesce(trim(handoffs.success_criteria), '') <> '' as has_success_criteria,
        coalesce(trim(handoffs.use_cases), '') <> '' as has_use_cases,
        handoffs.implementation_deadline_date is not null as has_implementation_deadline,
        coalesce(trim(handoffs.pain_points), '') <> '' as has_pain_points
    from onboarding
    left join handoffs on handoffs.opportunity_id = onboarding.new_logo_opportunity_id

),

scored as (

    select
        fields.*,
        (case when has_executive_sponsor then 0 else 1 end)
        + (case when has_champion then 0 else 1 end)
        + (case when has_success_criteria then 0 else 1 end)
        + (case when has_use_cases then 0 else 1 end)
        + (case when has_implementation_deadline then 0 else 1 end)
        + (case when has_pain_points then 0 else 1 end) as missing_field_count,
        -- "; "-separated tasks, each led by the separator, which the select strips once.
        (case when has_executive_sponsor then '' else '; Confirm executive sponsor' end)
        || (case when has_champion then '' else '; Identify champion' end)
        || (case when has_success_criteria then '' else '; Document success criteria' end)
        || (case when has_use_cases then '' else '; Document use cases' end)
        || (case when has_implementation_deadline then '' else '; Agree implementation deadline' end)
        || (case when has_pain_points then '' else '; Capture pain points' end) as task_list
    from fields

)

select
    scored.account_id,
    scored.opportunity_id,
    accounts.account_name,
    accounts.segment,
    accounts.csm_owner,
    scored.account_created_at,
    scored.first_contract_start_date,
    scored.opportunity_closed_at,
    scored.has_handoff,
    scored.has_executive_sponsor,
    scored.has_champion,
    scored.has_success_criteria,
    scored.has_use_cases,
    scored.has_implementation_deadline,
    scored.has_pain_points,
    scored.missing_field_count,
    scored.missing_field_count = 0 as is_ready,
    case when scored.task_list <> '' then substr(scored.task_list, 3) end as open_tasks,
    coalesce(version_stats.handoff_version_count, 0) as handoff_version_count,
    version_stats.first_received_at,
    case when scored.missing_field_count = 0 then ready_since.ready_since_at end as ready_since_at,
    scored.implementation_deadline_date,
    scored.source_batch_file as latest_batch_file,
    {{ dbt.datediff(
        'coalesce(cast(scored.opportunity_closed_at as date), cast(scored.account_created_at as date))',
        'bounds.as_of_date', 'day') }} as days_since_close,
    bounds.as_of_date
from scored
cross join bounds
left join accounts on accounts.account_id = scored.account_id
left join version_stats on version_stats.opportunity_id = scored.opportunity_id
left join ready_since on ready_since.opportunity_id = scored.opportunity_id
