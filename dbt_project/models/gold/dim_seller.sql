with

versions as (
    {{ scd2_versions(
        ref('sellers_snapshot'),
        'seller_id',
        ['zip_code_prefix', 'city', 'state_code', 'region'],
        'seller_key',
    ) }}
),

states as (
    select * from {{ ref('brazil_states') }}
),

final as (
    select
        versions.seller_key,
        versions.seller_id,
        versions.zip_code_prefix,
        versions.city,
        versions.state_code,
        states.state_name,
        versions.region,
        versions.valid_from,
        versions.valid_to,
        versions.is_current
    from versions
    left join states on versions.state_code = states.state_code
)

select * from final
