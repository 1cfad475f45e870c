with

sellers as (
    select * from {{ ref('silver_sellers') }}
),

states as (
    select * from {{ ref('brazil_states') }}
),

final as (
    select
        sellers.seller_id,
        sellers.zip_code_prefix,
        sellers.city,
        sellers.state_code,
        states.state_name,
        sellers.region
    from sellers
    left join states on sellers.state_code = states.state_code
)

select * from final
