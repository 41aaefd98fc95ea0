{#
    SQL of the health score for one profile's parameters `p` (see var `csops_health`). Expressions read the columns of
    fct_account_daily plus `key_value_events_mapped`, unqualified.

    kind = 'param': arg 'section.key' -> the number as a SQL literal
    kind = 'score': arg component -> its score in [0, 100], null when its inputs are missing
    kind = 'stale': arg component -> true when the score rests on an old input (only sentiment can be)
#}
{% macro csops_health_profile_sql(kind, arg, p) -%}
    {%- if kind == 'param' -%}
        {%- set section, key = arg.split('.') -%}
        {{ csops_health_number(p, section, key) }}
    {%- elif kind == 'score' -%}
        {{ csops_health_score_sql(arg, p) }}
    {%- elif kind == 'stale' -%}
        {%- if arg == 'sentiment' -%}
            (days_since_latest_nps > {{ csops_health_number(p, 'sentiment', 'stale_after_days') }})
        {%- else -%}
            false
        {%- endif -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("csops_health_profile_sql: unknown kind " ~ kind) }}
    {%- endif -%}
{%- endmacro %}


{% macro csops_health_number(p, section, key) -%}
    {%- set value = (p.get(section) or {}).get(key) -%}
    {%- if value is none or value is string or value is mapping -%}
        {{ exceptions.raise_compiler_error("csops_health: " ~ section ~ "." ~ key ~ " must be a number") }}
    {%- endif -%}
    {{ value | float }}
{%- endmacro %}


{# Weighted mean of the sub-scores that are not null; `parts` is a list of (sql, weight); null when none is. #}
{% macro csops_weighted_mean(parts) -%}
    (
        ({% for sql, w in parts %}{{ w }} * coalesce({{ sql }}, 0){{ ' + ' if not loop.last }}{% endfor %})
        / nullif({% for sql, w in parts %}(case when {{ sql }} is not null then {{ w }} else 0 end){{ ' + ' if not loop.last }}{% endfor %}, 0)
    )
{%- endmacro %}


{% macro csops_health_score_sql(component, p) -%}
    {%- set n = csops_health_number -%}
    {%- if component == 'usage' -%}
        {#- Never used counts as the worst recency rather than missing: usage is a required source. -#}
        {{ csops_weighted_mean([
            (csops_scale('seat_utilization', n(p, 'usage', 'utilization_zero_at'), n(p, 'usage', 'utilization_full_at')),
                n(p, 'usage', 'utilization_weight')),
            (csops_scale('usage_trend_28d', n(p, 'usage', 'trend_zero_at'), n(p, 'usage', 'trend_full_at')),
                n(p, 'usage', 'trend_weight')),
            ('coalesce(' ~ csops_scale('days_since_last_use', n(p, 'usage', 'recency_zero_at_days'),
                n(p, 'usage', 'recency_full_at_days')) ~ ', 0)', n(p, 'usage', 'recency_weight')),
        ]) }}
    {%- elif component == 'adoption' -%}
        {{ csops_weighted_mean([
            (csops_scale('feature_categories_used_30d', n(p, 'adoption', 'breadth_zero_at'),
                n(p, 'adoption', 'breadth_full_at')), 1.0 - (n(p, 'adoption', 'key_event_weight') | float)),
            ('case when key_value_events_mapped then (case when key_value_events_30d > 0 then 100.0 else 0.0 end) end',
                n(p, 'adoption', 'key_event_weight')),
        ]) }}
    {%- elif component == 'support' -%}
        case when has_support_data then {{ csops_weighted_mean([
            (csops_scale('tickets_30d', n(p, 'support', 'tickets_30d_zero_at'), n(p, 'support', 'tickets_30d_full_at')), 1),
            (csops_scale('open_tickets', n(p, 'support', 'open_tickets_zero_at'), 0), 1),
            (csops_scale('urgent_high_tickets_90d', n(p, 'support', 'urgent_high_90d_zero_at'), 0), 1),
            ('case when open_tickets = 0 then 100.0 else ' ~ csops_scale('oldest_open_ticket_age_days',
                n(p, 'support', 'oldest_open_zero_at_days'), n(p, 'support', 'oldest_open_full_at_days')) ~ ' end', 1),
            (csops_scale('csat_avg_90d', n(p, 'support', 'csat_zero_at'), n(p, 'support', 'csat_full_at')), 1),
        ]) }} end
    {%- elif component == 'sentiment' -%}
        {#- NPS (and its trend) while an answer is recent, and the sentiment of what the account's people wrote in 90
            days (ml/voice) once there are enough texts; either alone when the other is missing, null when both are. -#}
        {%- set text_weight = n(p, 'sentiment', 'text_weight') | float -%}
        {%- set nps_known = 'has_survey_data and latest_nps_score is not null and days_since_latest_nps <= '
            ~ n(p, 'sentiment', 'missing_after_days') -%}
        {{ csops_weighted_mean([
            ('case when ' ~ nps_known ~ ' then ' ~ csops_scale('latest_nps_score', n(p, 'sentiment', 'nps_zero_at'),
                n(p, 'sentiment', 'nps_full_at')) ~ ' end',
                (1.0 - (n(p, 'sentiment', 'trend_weight') | float)) * (1.0 - text_weight)),
            ('case when ' ~ nps_known ~ ' then ' ~ csops_scale('nps_trend', n(p, 'sentiment', 'trend_zero_at'),
                n(p, 'sentiment', 'trend_full_at')) ~ ' end',
                (n(p, 'sentiment', 'trend_weight') | float) * (1.0 - text_weight)),
            ('case when voice_texts_90d >= ' ~ n(p, 'sentiment', 'text_min_texts') ~ ' then '
                ~ csops_scale('voice_sentiment_90d', n(p, 'sentiment', 'text_zero_at'), n(p, 'sentiment', 'text_full_at'))
                ~ ' end', text_weight),
        ]) }}
    {%- elif component == 'engagement' -%}
        {#- Never touched counts as the worst recency: the activity source has data, so silence is a signal. -#}
        case when has_engagement_data then {{ csops_weighted_mean([
            ('coalesce(' ~ csops_scale('days_since_last_touch', n(p, 'engagement', 'touch_zero_at_days'),
                n(p, 'engagement', 'touch_full_at_days')) ~ ', 0)', 1),
            (csops_scale('live_touches_90d', 0, n(p, 'engagement', 'live_touches_90d_full_at')), 1),
        ]) }} end
    {%- elif component == 'stakeholder' -%}
        {%- set cp = n(p, 'stakeholder', 'champion_points') | float -%}
        {%- set sp = n(p, 'stakeholder', 'sponsor_points') | float -%}
        {%- set lp = n(p, 'stakeholder', 'no_recent_champion_loss_points') | float -%}
        {%- if cp + sp + lp <= 0 -%}
            {{ exceptions.raise_compiler_error("csops_health: stakeholder points sum to 0") }}
        {%- endif -%}
        case when has_stakeholder_data then 100.0 * (
            (case when has_champion then {{ cp }} else 0 end)
            + (case when has_executive_sponsor then {{ sp }} else 0 end)
            + (case when champion_left_90d then 0 else {{ lp }} end)
        ) / {{ cp + sp + lp }} end
    {%- else -%}
        {{ exceptions.raise_compiler_error("csops_health: unknown component " ~ component) }}
    {%- endif -%}
{%- endmacro %}
