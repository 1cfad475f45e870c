{{ config(enabled=var('stream_enabled', false), tags=['stream']) }}

with

manifest as (
    select * from {{ source('stream', 'order_events') }}
),

raw_rows as (
    select *
    from {{ read_raw_json(
        source('stream', 'order_events'),
        {
            'event_id': 'varchar', 'order_id': 'varchar',
            'order_status': 'varchar', 'event_at': 'varchar',
        },
        json_format='newline_delimited',
    ) }}
),

final as (
    select
        raw_rows.event_id,
        raw_rows.order_id,
        raw_rows.order_status,
        raw_rows.event_at,
        manifest.object_key as _source_object,
        manifest.sha256 as _sha256,
        cast(manifest.ingested_at as timestamp) as _ingested_at
    from raw_rows
    inner join manifest
        on {{ raw_object_sha('raw_rows.filename') }} = manifest.sha256
)

select * from final
