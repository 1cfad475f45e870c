{{ config(**silver_incremental(['zip_code_prefix'])) }}

{#- One row per zip prefix: exact duplicates and coordinates outside Brazil's
    bounding box (islands kept) are dropped, the point is the median latitude
    and longitude (a stray point does not move it), the city is the most
    frequent normalized spelling. Each distinct point keeps its newest
    ingestion, and a prefix's is the newest of its points: no second pass
    over the rows for it. -#}
with

geolocation as (
    {{ touched_rows(
        ref('bronze_olist__geolocation'), [pad_zip('geolocation_zip_code_prefix')]
    ) }}
),

conformed as (
    select
        {{ pad_zip('geolocation_zip_code_prefix') }} as zip_code_prefix,
        cast(geolocation_lat as double) as latitude,
        cast(geolocation_lng as double) as longitude,
        {{ normalize_city('geolocation_city') }} as city,
        upper(trim(geolocation_state)) as state_code,
        max(_ingested_at) as _ingested_at
    from geolocation
    group by 1, 2, 3, 4, 5
),

ingested as (
    select
        zip_code_prefix,
        max(_ingested_at) as _ingested_at
    from conformed
    group by 1
),

inside_brazil as (
    select *
    from conformed
    where {{ in_brazil('latitude', 'longitude') }}
),

city_votes as (
    select
        zip_code_prefix,
        city,
        state_code,
        count(*) as votes
    from inside_brazil
    group by 1, 2, 3
),

top_city as (
    {{ latest_per_key(
        'city_votes', ['zip_code_prefix'], order_by='votes desc, city asc'
    ) }}
),

coordinates as (
    select
        zip_code_prefix,
        {{ median('latitude') }} as latitude,
        {{ median('longitude') }} as longitude,
        count(*) as distinct_points
    from inside_brazil
    group by 1
),

final as (
    select
        coordinates.zip_code_prefix,
        top_city.city,
        top_city.state_code,
        coordinates.latitude,
        coordinates.longitude,
        coordinates.distinct_points,
        ingested._ingested_at
    from coordinates
    inner join
        top_city
        on coordinates.zip_code_prefix = top_city.zip_code_prefix
    inner join
        ingested
        on coordinates.zip_code_prefix = ingested.zip_code_prefix
)

select * from final
