{#
    Health-score configuration (var `csops_health`, see dbt_project.yml): the `default` profile deep-merged with each
    `segments.<segment>` override, validated at compile time so a typo fails the build instead of scoring silently.
#}

{% macro csops_health_components() -%}
    {{ return(['usage', 'adoption', 'support', 'sentiment', 'engagement', 'stakeholder']) }}
{%- endmacro %}


{% macro csops_health_profiles() -%}
    {%- set config = var('csops_health') -%}
    {%- set default = config.get('default') -%}
    {%- if default is none -%}
        {{ exceptions.raise_compiler_error("var csops_health needs a `default` profile") }}
    {%- endif -%}
    {%- set profiles = [{'name': 'default', 'segment': none, 'params': csops_health_validate('default', default)}] -%}
    {%- set segments = config.get('segments') or {} -%}
    {%- for segment in segments | sort -%}
        {%- set merged = {} -%}
        {%- for section, values in default.items() -%}
            {%- set copy = {} -%}
            {%- do copy.update(values) -%}
            {%- do merged.update({section: copy}) -%}
        {%- endfor -%}
        {%- for section, values in (segments[segment] or {}).items() -%}
            {%- if section not in merged -%}
                {{ exceptions.raise_compiler_error(
                    "csops_health.segments." ~ segment ~ "." ~ section ~ " is not a section of the default profile"
                ) }}
            {%- endif -%}
            {%- for key in values -%}
                {%- if key not in merged[section] -%}
                    {{ exceptions.raise_compiler_error(
                        "csops_health.segments." ~ segment ~ "." ~ section ~ "." ~ key ~ " is not a key of the default profile"
                    ) }}
                {%- endif -%}
            {%- endfor -%}
            {%- do merged[section].update(values) -%}
        {%- endfor -%}
        {%- do profiles.append({'name': segment, 'segment': segment, 'params': csops_health_validate(segment, merged)}) -%}
    {%- endfor -%}
    {{ return(profiles) }}
{%- endmacro %}


{% macro csops_health_validate(name, params) -%}
    {%- set weights = params.get('weights') or {} -%}
    {%- set total = namespace(value=0) -%}
    {%- for component in csops_health_components() -%}
        {%- set w = weights.get(component) -%}
        {%- if w is none or (w | float) < 0 -%}
            {{ exceptions.raise_compiler_error(
                "csops_health profile " ~ name ~ ": weights." ~ component ~ " must be a number >= 0"
            ) }}
        {%- endif -%}
        {%- set total.value = total.value + (w | float) -%}
    {%- endfor -%}
    {%- if total.value <= 0 -%}
        {{ exceptions.raise_compiler_error("csops_health profile " ~ name ~ ": weights sum to 0") }}
    {%- endif -%}
    {%- set bands = params.get('bands') or {} -%}
    {%- if not (0 <= (bands.get('yellow_min', -1) | float) <= (bands.get('green_min', -1) | float) <= 100) -%}
        {{ exceptions.raise_compiler_error(
            "csops_health profile " ~ name ~ ": bands need 0 <= yellow_min <= green_min <= 100"
        ) }}
    {%- endif -%}
    {%- for section in csops_health_components() + ['movement'] -%}
        {%- if params.get(section) is none -%}
            {{ exceptions.raise_compiler_error("csops_health profile " ~ name ~ ": section " ~ section ~ " is missing") }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(params) }}
{%- endmacro %}


{#
    `case` over the health profiles: each profile's SQL comes from `csops_health_profile_sql(kind, arg, params)`.
    Rows whose `profile_column` names a segment profile get that one, all others the default.
#}
{% macro csops_by_health_profile(profile_column, kind, arg) -%}
    {%- set profiles = csops_health_profiles() -%}
    {%- if profiles | length == 1 -%}
        {{ csops_health_profile_sql(kind, arg, profiles[0].params) }}
    {%- else -%}
        case
        {%- for profile in profiles if profile.segment is not none %}
            when {{ profile_column }} = {{ csops_sql_string(profile.name) }}
                then {{ csops_health_profile_sql(kind, arg, profile.params) }}
        {%- endfor %}
            else {{ csops_health_profile_sql(kind, arg, profiles[0].params) }}
        end
    {%- endif -%}
{%- endmacro %}
