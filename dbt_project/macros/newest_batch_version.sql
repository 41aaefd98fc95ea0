{#
    Keeps one version per primary key of an entity source: the row from the newest batch (contract v1: batches
    order by file modification time, then file name). Within one batch the last row wins. Only for entities;
    ingest already dropped repeated fact keys, and windowing tens of millions of events would cost for nothing.
#}
{% macro qualify_newest_batch_version(primary_key) -%}
    qualify row_number() over (
        partition by {{ primary_key }}
        order by _batch_modified_at desc nulls last, _batch_file desc nulls last, _row_number desc nulls last
    ) = 1
{%- endmacro %}
