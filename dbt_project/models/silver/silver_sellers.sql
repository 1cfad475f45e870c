with

sellers as (
    select * from {{ ref('bronze_olist__sellers') }}
),

states as (
    select * from {{ ref('brazil_states') }}
),

latest as (
    {{ latest_per_key('sellers', natural_key('sellers')) }}
),

final as (
    select
        latest.seller_id,
        {{ pad_zip('latest.seller_zip_code_prefix') }} as zip_code_prefix,
        {{ normalize_city('latest.seller_city') }} as city,
        upper(trim(latest.seller_state)) as state_code,
        states.region,
        latest._source_object,
        latest._sha256,
        latest._ingested_at
    from latest
    left join states on upper(trim(latest.seller_state)) = states.state_code
)

select * from final
