{{ config(enabled=var('apis_enabled', true), tags=['apis']) }}

{#- One row per capital and observation time (OpenWeather's dt, UTC). -#}
with

current_weather as (
    select * from {{ ref('bronze_openweather__current') }}
),

typed as (
    select
        upper(state_code) as state_code,
        city,
        cast({{ json_text('response', 'dt') }} as bigint) as observed_epoch,
        cast({{ json_text('response', 'main.temp') }} as double)
            as temperature_c,
        cast({{ json_text('response', 'main.humidity') }} as double)
            as humidity_pct,
        {{ json_text('response', 'weather[0].main') }} as condition,
        _source_object,
        _sha256,
        _ingested_at
    from current_weather
),

latest as (
    {{ latest_per_key('typed', ['state_code', 'observed_epoch']) }}
),

final as (
    select
        state_code,
        city,
        {{ epoch_to_utc('observed_epoch') }} as observed_at,
        temperature_c,
        humidity_pct,
        condition,
        _source_object,
        _sha256,
        _ingested_at
    from latest
)

select * from final
