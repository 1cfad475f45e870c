with

geolocation as (
    select * from {{ ref('silver_geolocation') }}
),

states as (
    select * from {{ ref('brazil_states') }}
),

final as (
    select
        geolocation.zip_code_prefix,
        geolocation.city,
        geolocation.state_code,
        states.state_name,
        states.region,
        geolocation.latitude,
        geolocation.longitude
    from geolocation
    left join states on geolocation.state_code = states.state_code
)

select * from final
