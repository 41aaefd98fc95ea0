{{ config(materialized='table') }}

-- NPS per account and answer day (several answers on one day are averaged), with the previous answer day's score so
-- a point-in-time lookup of the latest answer also gives its trend.
with

nps_days as (

    select
        account_id,
        responded_on,
        avg(cast(score as double)) as nps_score,
        count(*) as nps_responses
    from {{ ref('stg_survey_responses') }}
    where survey_type = 'nps'
    group by account_id, responded_on

)

select
    account_id,
    responded_on,
    nps_score,
    nps_responses,
    lag(nps_score) over (partition by account_id order by responded_on) as previous_nps_score,
    lag(responded_on) over (partition by account_id order by responded_on) as previous_responded_on
from nps_days
