{#- Each Olist manifest lists a raw object once and by its sha256: bronze reads
    every accepted object its manifest lists, so a record listed twice would load
    the object's rows twice. One query over the nine manifests; returns each data
    set and sha256 listed more than once (or a record without one). -#}
{{ config(tags=['lake']) }}
{%- set datasets = olist_datasets() -%}

with

listed as (
    {%- for dataset in datasets %}
    select
        '{{ dataset }}' as dataset,
        sha256
    from {{ source('olist', dataset) }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (
    select
        dataset,
        sha256,
        count(*) as records
    from listed
    group by 1, 2
    having count(*) > 1 or sha256 is null
)

select * from final
