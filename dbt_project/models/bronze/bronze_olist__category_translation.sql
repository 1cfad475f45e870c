{%- set columns = [
        'product_category_name',
        'product_category_name_english',
] -%}

with

manifest as (
    select * from {{ source('olist', 'category_translation') }}
),

raw_rows as (
    select *
    from {{ read_raw_csv(source('olist', 'category_translation'), columns) }}
),

final as (
    select
        raw_rows.product_category_name,
        raw_rows.product_category_name_english,
        manifest.object_key as _source_object,
        manifest.sha256 as _sha256,
        cast(manifest.ingested_at as timestamp) as _ingested_at
    from raw_rows
    inner join manifest
        on {{ raw_object_sha('raw_rows.filename') }} = manifest.sha256
)

select * from final
