{#-
    Product feedback for the product team: bug reports and feature requests found in customer text, grouped by kind
    and product area, counted across accounts, with the ARR of the accounts behind each (their active ARR today).
-#}

with

feedback as (

    select * from {{ ref('int_voice_text_signals') }}
    where feedback_kind is not null

),

accounts as (

    select account_id, coalesce(active_arr_amount, 0) as active_arr_amount from {{ ref('dim_accounts') }}

),

per_account as (

    select
        feedback_kind,
        feedback_area,
        account_id,
        count(*) as mentions,
        min(created_on) as first_mentioned_on,
        max(created_on) as last_mentioned_on
    from feedback
    group by 1, 2, 3

),

latest_quote as (

    select feedback_kind, feedback_area, evidence as example_quote
    from (
        select
            feedback_kind, feedback_area, evidence,
            row_number() over (partition by feedback_kind, feedback_area order by created_on desc nulls last, text_id) as recency
        from feedback
        where evidence is not null
    ) as ranked
    where recency = 1

)

select
    per_account.feedback_kind,
    per_account.feedback_area,
    sum(per_account.mentions) as mentions,
    count(*) as accounts,
    round(sum(coalesce(accounts.active_arr_amount, 0)), 2) as arr_amount,
    min(per_account.first_mentioned_on) as first_mentioned_on,
    max(per_account.last_mentioned_on) as last_mentioned_on,
    max(latest_quote.example_quote) as example_quote
from per_account
left join accounts
    on per_account.account_id = accounts.account_id
left join latest_quote
    on per_account.feedback_kind = latest_quote.feedback_kind
    and per_account.feedback_area = latest_quote.feedback_area
group by 1, 2
