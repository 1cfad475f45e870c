{{ config(**bronze_incremental()) }}

{%- set columns = [
        'order_id',
        'customer_id',
        'order_status',
        'order_purchase_timestamp',
        'order_approved_at',
        'order_delivered_carrier_date',
        'order_delivered_customer_date',
        'order_estimated_delivery_date',
] -%}

with

manifest as (
    select * from {{ source('olist', 'orders') }}
),

raw_rows as (
    select * from {{ read_raw_csv(source('olist', 'orders'), columns) }}
),

final as (
    select
        raw_rows.order_id,
        raw_rows.customer_id,
        raw_rows.order_status,
        raw_rows.order_purchase_timestamp,
        raw_rows.order_approved_at,
        raw_rows.order_delivered_carrier_date,
        raw_rows.order_delivered_customer_date,
        raw_rows.order_estimated_delivery_date,
        manifest.object_key as _source_object,
        manifest.sha256 as _sha256,
        cast(manifest.ingested_at as timestamp) as _ingested_at
    from raw_rows
    inner join manifest
        on {{ raw_object_sha('raw_rows.filename') }} = manifest.sha256
)

select * from final
