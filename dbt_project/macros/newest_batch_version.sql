{#
    Keeps one version per primary key of an entity source: the newest record. A record that carries `updated_at`
    (when the source system last changed it) is ordered by it, so an old export re-sent late does not revert newer
    data; a record with it beats one without. Otherwise the row from the newest batch wins (contract v1: batches
    order by file modification time, then file name), and within one batch the last row. Only for entities; ingest
    already dropped repeated fact keys, and windowing tens of millions of events would cost for nothing.
#}
{% macro qualify_newest_batch_version(primary_key) -%}
    qualify row_number() over (
        partition by {{ primary_key }}
        order by updated_at desc nulls last, _batch_modified_at desc nulls last, _batch_file desc nulls last,
            _row_number desc nulls last
    ) = 1
{%- endmacro %}
