{{ config(**bronze_incremental()) }}

{%- set columns = [
        'product_id',
        'product_category_name',
        'product_name_lenght',
        'product_description_lenght',
        'product_photos_qty',
        'product_weight_g',
        'product_length_cm',
        'product_height_cm',
        'product_width_cm',
] -%}

with

manifest as (
    select * from {{ source('olist', 'products') }}
),

raw_rows as (
    select * from {{ read_raw_csv(source('olist', 'products'), columns) }}
),

final as (
    select
        raw_rows.product_id,
        raw_rows.product_category_name,
        raw_rows.product_name_lenght as product_name_length,
        raw_rows.product_description_lenght as product_description_length,
        raw_rows.product_photos_qty,
        raw_rows.product_weight_g,
        raw_rows.product_length_cm,
        raw_rows.product_height_cm,
        raw_rows.product_width_cm,
        manifest.object_key as _source_object,
        manifest.sha256 as _sha256,
        cast(manifest.ingested_at as timestamp) as _ingested_at
    from raw_rows
    inner join manifest
        on {{ raw_object_sha('raw_rows.filename') }} = manifest.sha256
)

select * from final
