{{ config(enabled=var('stream_enabled', false), tags=['stream']) }}

{#- One row per event id (the consumer already keeps raw exactly-once; this
    guards a replayed raw object too), event time in UTC. -#}
with

events as (
    select * from {{ ref('bronze_stream__order_events') }}
),

latest as (
    {{ latest_per_key('events', ['event_id']) }}
),

final as (
    select
        event_id,
        order_id,
        lower(trim(order_status)) as order_status,
        cast(cast(event_at as timestamptz) as timestamp) as event_at,
        _source_object,
        _sha256,
        _ingested_at
    from latest
)

select * from final
