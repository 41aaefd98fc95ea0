{#
    Version history of an entity across landing batches: CTEs `one_per_day` (the newest row per key and batch day,
    in contract v1 order: modification time, file name, row number) and `sequenced` (adds `version_number` and
    `next_version_on`). `typed_cte` must carry batch_modified_on, batch_modified_at, source_batch_file and
    batch_row_number. Used where a model needs what staging's newest-version deduplication throws away.
#}
{% macro batch_day_versions(typed_cte, key) -%}
one_per_day as (

    select * from {{ typed_cte }}
    qualify row_number() over (
        partition by {{ key }}, batch_modified_on
        order by batch_modified_at desc nulls last, source_batch_file desc nulls last, batch_row_number desc nulls last
    ) = 1

),

sequenced as (

    select
        *,
        row_number() over (partition by {{ key }} order by batch_modified_on) as version_number,
        lead(batch_modified_on) over (partition by {{ key }} order by batch_modified_on) as next_version_on
    from one_per_day

)
{%- endmacro %}
