{{ config(**bronze_incremental()) }}

{%- set columns = [
        'order_id',
        'order_item_id',
        'product_id',
        'seller_id',
        'shipping_limit_date',
        'price',
        'freight_value',
] -%}

with

manifest as (
    select * from {{ source('olist', 'order_items') }}
),

raw_rows as (
    select * from {{ read_raw_csv(source('olist', 'order_items'), columns) }}
),

final as (
    select
        raw_rows.order_id,
        raw_rows.order_item_id,
        raw_rows.product_id,
        raw_rows.seller_id,
        raw_rows.shipping_limit_date,
        raw_rows.price,
        raw_rows.freight_value,
        manifest.object_key as _source_object,
        manifest.sha256 as _sha256,
        cast(manifest.ingested_at as timestamp) as _ingested_at
    from raw_rows
    inner join manifest
        on {{ raw_object_sha('raw_rows.filename') }} = manifest.sha256
)

select * from final
