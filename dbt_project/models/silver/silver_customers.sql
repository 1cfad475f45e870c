with

customers as (
    select * from {{ ref('bronze_olist__customers') }}
),

states as (
    select * from {{ ref('brazil_states') }}
),

latest as (
    {{ latest_per_key('customers', ['customer_id']) }}
),

conformed as (
    select
        latest.customer_id,
        latest.customer_unique_id,
        {{ pad_zip('latest.customer_zip_code_prefix') }} as zip_code_prefix,
        {{ normalize_city('latest.customer_city') }} as city,
        upper(trim(latest.customer_state)) as state_code,
        latest._source_object,
        latest._sha256,
        latest._ingested_at
    from latest
),

final as (
    select
        {{ pseudonymize('conformed.customer_id') }} as customer_id,
        {{ pseudonymize('conformed.customer_unique_id') }}
            as customer_unique_id,
        {{ generalize_zip('conformed.zip_code_prefix', 3) }}
            as zip_code_prefix_3,
        {{ suppress_rare('conformed.city', var('pii_min_city_customers')) }}
            as city,
        conformed.state_code,
        states.region,
        conformed._source_object,
        conformed._sha256,
        conformed._ingested_at
    from conformed
    left join states on conformed.state_code = states.state_code
)

select * from final
