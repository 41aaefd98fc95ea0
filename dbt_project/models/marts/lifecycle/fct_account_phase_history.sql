{#
    SCD-2 history of each account's lifecycle phase: one row per account and uninterrupted run of days in one phase,
    collapsed from int_account_phase_daily (not a dbt snapshot: derived from dated data, so a rebuild reproduces it).
    valid_to_date is exclusive and null on the current row.
#}

with

daily as (

    select * from {{ ref('int_account_phase_daily') }}

),

runs as (

    select
        daily.*,
        row_number() over (partition by account_id order by date_day)
        - row_number() over (partition by account_id, phase_number order by date_day) as run_key
    from daily

),

collapsed as (

    select
        account_id,
        phase_number,
        min(phase_name) as phase_name,
        run_key,
        min(date_day) as valid_from_date,
        max(date_day) as last_day_in_phase,
        count(*) as days_in_phase
    from runs
    group by account_id, phase_number, run_key

),

entry_gates as (

    select
        collapsed.account_id,
        collapsed.valid_from_date,
        daily.phase_gate as entry_gate,
        daily.contract_status as entry_contract_status
    from collapsed
    inner join daily
        on daily.account_id = collapsed.account_id
        and daily.date_day = collapsed.valid_from_date

),

sequenced as (

    select
        collapsed.*,
        row_number() over (partition by account_id order by valid_from_date) as phase_sequence,
        lag(phase_number) over (partition by account_id order by valid_from_date) as previous_phase_number,
        lead(valid_from_date) over (partition by account_id order by valid_from_date) as next_valid_from_date
    from collapsed

)

select
    sequenced.account_id || '|' || cast(sequenced.valid_from_date as {{ dbt.type_string() }}) as phase_history_id,
    sequenced.account_id,
    cast(sequenced.phase_sequence as {{ dbt.type_int() }}) as phase_sequence,
    sequenced.phase_number,
    sequenced.phase_name,
    entry_gates.entry_gate as phase_gate,
    entry_gates.entry_contract_status,
    sequenced.previous_phase_number,
    sequenced.valid_from_date,
    sequenced.next_valid_from_date as valid_to_date,
    sequenced.next_valid_from_date is null as is_current,
    cast(sequenced.days_in_phase as {{ dbt.type_int() }}) as days_in_phase
from sequenced
inner join entry_gates
    on entry_gates.account_id = sequenced.account_id
    and entry_gates.valid_from_date = sequenced.valid_from_date
