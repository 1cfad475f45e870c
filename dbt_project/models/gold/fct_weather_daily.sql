{{ config(enabled=var('apis_enabled', true), tags=['apis']) }}

{#- Grain: one row per state capital and local day (the capital's own time
    zone) with observations, so a day matches the local purchase date. -#}
with

observations as (
    select * from {{ ref('silver_weather_observations') }}
),

timezones as (
    select * from {{ ref('capital_timezones') }}
),

dated as (
    select
        observations.state_code,
        observations.city,
        observations.temperature_c,
        observations.humidity_pct,
        cast(
            {{ utc_to_local('observations.observed_at', 'timezones.timezone') }}
            as date
        ) as observed_date
    from observations
    inner join timezones on observations.state_code = timezones.state_code
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
