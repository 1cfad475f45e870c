{{ config(**bronze_incremental()) }}

{%- set columns = [
        'geolocation_zip_code_prefix',
        'geolocation_lat',
        'geolocation_lng',
        'geolocation_city',
        'geolocation_state',
] -%}

with

manifest as (
    select * from {{ source('olist', 'geolocation') }}
),

raw_rows as (
    select * from {{ read_raw_csv(source('olist', 'geolocation'), columns) }}
),

final as (
    select
        raw_rows.geolocation_zip_code_prefix,
        raw_rows.geolocation_lat,
        raw_rows.geolocation_lng,
        raw_rows.geolocation_city,
        raw_rows.geolocation_state,
        manifest.object_key as _source_object,
        manifest.sha256 as _sha256,
        cast(manifest.ingested_at as timestamp) as _ingested_at
    from raw_rows
    inner join manifest
        on {{ raw_object_sha('raw_rows.filename') }} = manifest.sha256
)

select * from final
