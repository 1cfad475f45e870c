{{ config(enabled=var('apis_enabled', true), tags=['apis']) }}

{#- Grain: one row per state capital and UTC day with observations. -#}
with

observations as (
    select * from {{ ref('silver_weather_observations') }}
),

dated as (
    select
        *,
        cast(observed_at as date) as observed_date
    from observations
),

final as (
    select
        {{ surrogate_key(['state_code', 'observed_date']) }} as weather_day_key,
        state_code,
        max(city) as city,
        observed_date,
        avg(temperature_c) as temperature_avg_c,
        min(temperature_c) as temperature_min_c,
        max(temperature_c) as temperature_max_c,
        avg(humidity_pct) as humidity_avg_pct,
        count(*) as observations
    from dated
    group by 2, 4
)

select * from final
