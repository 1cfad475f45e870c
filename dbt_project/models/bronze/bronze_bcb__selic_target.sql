{{ config(enabled=var('apis_enabled', true), tags=['apis']) }}

with

manifest as (
    select * from {{ source('bcb', 'series_selic_target') }}
),

raw_rows as (
    select *
    from {{ read_raw_json(
        source('bcb', 'series_selic_target'),
        {'data': 'varchar', 'valor': 'varchar'},
    ) }}
),

final as (
    select
        432 as series_code,
        raw_rows.data as reference_date_text,
        raw_rows.valor as value_text,
        manifest.object_key as _source_object,
        manifest.sha256 as _sha256,
        cast(manifest.ingested_at as timestamp) as _ingested_at
    from raw_rows
    inner join manifest
        on {{ raw_object_sha('raw_rows.filename') }} = manifest.sha256
)

select * from final
