{%- set topics = var('csops_voice_topics') %}
{#-
    Voice of the customer per active account and day (the rows of fct_account_daily, so point in time like it): what
    the account's texts written in the trailing 30 and 90 days say. Windows count rows of fct_account_daily, one per
    active day, so a gap in activity does not stretch them.
-#}

with

spine as (

    select account_id, date_day from {{ ref('fct_account_daily') }}

),

texts as (

    select * from {{ ref('int_voice_text_signals') }}

),

daily as (

    select
        account_id,
        created_on as date_day,
        count(*) as texts,
        -- Exact decimal sums: a floating-point window sum depends on where its frame starts, and the point-in-time
        -- check rebuilds these rows from truncated data (scores kept to 4 decimals, as VADER gives them).
        sum(cast(sentiment_score as decimal(18, 4))) as sentiment_sum,
        sum(case when sentiment = 'negative' then 1 else 0 end) as negative_texts,
        sum(case when sentiment = 'positive' then 1 else 0 end) as positive_texts,
        {%- for topic in topics %}
        sum(case when ',' || topics || ',' like '%,{{ topic }},%' then 1 else 0 end) as topic_{{ topic }},
        {%- endfor %}
        sum(case when competitors <> '' then 1 else 0 end) as competitor_mentions,
        sum(case when intent_to_leave then 1 else 0 end) as intent_to_leave_texts,
        sum(case when intent_to_downgrade then 1 else 0 end) as intent_to_downgrade_texts
    from texts
    group by 1, 2

),

joined as (

    select
        spine.account_id,
        spine.date_day,
        coalesce(daily.texts, 0) as texts,
        coalesce(daily.sentiment_sum, 0) as sentiment_sum,
        coalesce(daily.negative_texts, 0) as negative_texts,
        coalesce(daily.positive_texts, 0) as positive_texts,
        {%- for topic in topics %}
        coalesce(daily.topic_{{ topic }}, 0) as topic_{{ topic }},
        {%- endfor %}
        coalesce(daily.competitor_mentions, 0) as competitor_mentions,
        coalesce(daily.intent_to_leave_texts, 0) as intent_to_leave_texts,
        coalesce(daily.intent_to_downgrade_texts, 0) as intent_to_downgrade_texts
    from spine
    left join daily
        on spine.account_id = daily.account_id
        and spine.date_day = daily.date_day

),

windows as (

    select
        account_id,
        date_day,
        {%- for days in [30, 90] %}
        {%- set frame = "over (partition by account_id order by date_day rows between " ~ (days - 1) ~ " preceding and current row)" %}
        sum(texts) {{ frame }} as texts_{{ days }}d,
        sum(sentiment_sum) {{ frame }} as sentiment_sum_{{ days }}d,
        sum(negative_texts) {{ frame }} as negative_texts_{{ days }}d,
        sum(positive_texts) {{ frame }} as positive_texts_{{ days }}d,
        {%- endfor %}
        {%- for topic in topics %}
        sum(topic_{{ topic }}) over (partition by account_id order by date_day rows between 89 preceding and current row) as {{ topic }}_texts_90d,
        {%- endfor %}
        sum(competitor_mentions) over (partition by account_id order by date_day rows between 89 preceding and current row) as competitor_mentions_90d,
        sum(intent_to_leave_texts) over (partition by account_id order by date_day rows between 89 preceding and current row) as intent_to_leave_texts_90d,
        sum(intent_to_downgrade_texts) over (partition by account_id order by date_day rows between 89 preceding and current row) as intent_to_downgrade_texts_90d
    from joined

)

select
    account_id,
    date_day,
    texts_30d,
    texts_90d,
    case when texts_30d > 0 then round(cast(sentiment_sum_30d as {{ dbt.type_float() }}) / texts_30d, 4) end as sentiment_avg_30d,
    case when texts_90d > 0 then round(cast(sentiment_sum_90d as {{ dbt.type_float() }}) / texts_90d, 4) end as sentiment_avg_90d,
    case when texts_30d > 0 and texts_90d > 0
        then round(cast(sentiment_sum_30d as {{ dbt.type_float() }}) / texts_30d
                   - cast(sentiment_sum_90d as {{ dbt.type_float() }}) / texts_90d, 4) end as sentiment_trend,
    case when texts_30d > 0 then round(1.0 * negative_texts_30d / texts_30d, 4) end as negative_share_30d,
    case when texts_90d > 0 then round(1.0 * negative_texts_90d / texts_90d, 4) end as negative_share_90d,
    case when texts_90d > 0 then round(1.0 * positive_texts_90d / texts_90d, 4) end as positive_share_90d,
    {%- for topic in topics %}
    {{ topic }}_texts_90d,
    {%- endfor %}
    competitor_mentions_90d,
    intent_to_leave_texts_90d,
    intent_to_downgrade_texts_90d
from windows
