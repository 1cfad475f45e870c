{{ config(**bronze_incremental()) }}

{%- set columns = [
        'customer_id',
        'customer_unique_id',
        'customer_zip_code_prefix',
        'customer_city',
        'customer_state',
] -%}

with

manifest as (
    select * from {{ source('olist', 'customers') }}
),

raw_rows as (
    select * from {{ read_raw_csv(source('olist', 'customers'), columns) }}
),

final as (
    select
        raw_rows.customer_id,
        raw_rows.customer_unique_id,
        raw_rows.customer_zip_code_prefix,
        raw_rows.customer_city,
        raw_rows.customer_state,
        manifest.object_key as _source_object,
        manifest.sha256 as _sha256,
        cast(manifest.ingested_at as timestamp) as _ingested_at
    from raw_rows
    inner join manifest
        on {{ raw_object_sha('raw_rows.filename') }} = manifest.sha256
)

select * from final
