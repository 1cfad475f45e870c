{{ config(**bronze_incremental()) }}

{%- set columns = [
        'seller_id',
        'seller_zip_code_prefix',
        'seller_city',
        'seller_state',
] -%}

with

manifest as (
    select * from {{ source('olist', 'sellers') }}
),

raw_rows as (
    select * from {{ read_raw_csv(source('olist', 'sellers'), columns) }}
),

final as (
    select
        raw_rows.seller_id,
        raw_rows.seller_zip_code_prefix,
        raw_rows.seller_city,
        raw_rows.seller_state,
        manifest.object_key as _source_object,
        manifest.sha256 as _sha256,
        cast(manifest.ingested_at as timestamp) as _ingested_at
    from raw_rows
    inner join manifest
        on {{ raw_object_sha('raw_rows.filename') }} = manifest.sha256
)

select * from final
