{{ config(enabled=var('apis_enabled', true), tags=['apis']) }}

with

manifest as (
    select * from {{ source('openweather', 'current') }}
),

raw_rows as (
    select *
    from {{ read_raw_json(
        source('openweather', 'current'),
        {'state': 'varchar', 'city': 'varchar', 'response': 'varchar'},
        json_format='newline_delimited',
    ) }}
),

final as (
    select
        raw_rows.state as state_code,
        raw_rows.city,
        raw_rows.response,
        manifest.object_key as _source_object,
        manifest.sha256 as _sha256,
        cast(manifest.ingested_at as timestamp) as _ingested_at
    from raw_rows
    inner join manifest
        on {{ raw_object_sha('raw_rows.filename') }} = manifest.sha256
)

select * from final
