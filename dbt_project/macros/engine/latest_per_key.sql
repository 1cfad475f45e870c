{% macro latest_per_key(
    relation, keys, order_by='_ingested_at desc, _source_object desc'
) -%}
    {#- Keep one row per key: the first by order_by, by default the latest
        ingested version (portable: no qualify). -#}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ keys | join(', ') }}
                order by {{ order_by }}
            ) as _version_rank
        from {{ relation }}
    ) as ranked
    where _version_rank = 1
{%- endmacro %}
