{{ config(**bronze_incremental()) }}

{%- set columns = [
        'order_id',
        'payment_sequential',
        'payment_type',
        'payment_installments',
        'payment_value',
] -%}

with

manifest as (
    select * from {{ source('olist', 'order_payments') }}
),

raw_rows as (
    select * from {{ read_raw_csv(source('olist', 'order_payments'), columns) }}
),

final as (
    select
        raw_rows.order_id,
        raw_rows.payment_sequential,
        raw_rows.payment_type,
        raw_rows.payment_installments,
        raw_rows.payment_value,
        manifest.object_key as _source_object,
        manifest.sha256 as _sha256,
        cast(manifest.ingested_at as timestamp) as _ingested_at
    from raw_rows
    inner join manifest
        on {{ raw_object_sha('raw_rows.filename') }} = manifest.sha256
)

select * from final
