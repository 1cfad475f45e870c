{#- Every accepted raw object (in a backfill: ingested by its day) reaches
    bronze with exactly the rows the connector counted when it validated the
    file: nothing lost or added between raw and bronze. Returns the objects
    whose counts differ. -#}
{{ config(tags=['lake']) }}
{%- set datasets = olist_datasets() -%}
{%- set scope = (
    ingested_by_as_of('ingested_at') ~ ' ' ~ not_held_back('sha256')
) | trim -%}

with

{% for dataset in datasets %}
{{ dataset }}_expected as (
    select
        '{{ dataset }}' as dataset,
        sha256,
        cast(rows as bigint) as expected_rows
    from {{ source('olist', dataset) }}
    where status = 'accepted'{% if scope %} {{ scope }}{% endif %}
),

{{ dataset }}_loaded as (
    select
        _sha256 as sha256,
        count(*) as loaded_rows
    from {{ ref('bronze_olist__' ~ dataset) }}
    group by 1
),

{% endfor %}
compared as (
    {%- for dataset in datasets %}
    select
        {{ dataset }}_expected.dataset,
        {{ dataset }}_expected.sha256,
        {{ dataset }}_expected.expected_rows,
        coalesce({{ dataset }}_loaded.loaded_rows, 0) as loaded_rows
    from {{ dataset }}_expected
    left join {{ dataset }}_loaded
        on {{ dataset }}_expected.sha256 = {{ dataset }}_loaded.sha256
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (
    select *
    from compared
    where expected_rows != loaded_rows
)

select * from final
