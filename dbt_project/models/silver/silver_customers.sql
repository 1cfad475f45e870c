with

customers as (
    select * from {{ ref('bronze_olist__customers') }}
),

states as (
    select * from {{ ref('brazil_states') }}
),

erased as (
    select * from {{ ref('silver_erased_customers') }}
),

requests as (
    select * from {{ ref('bronze_erasure__requests') }}
),

latest as (
    {{ latest_per_key('customers', natural_key('customers')) }}
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

masked as (
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
),

kept as (
    select masked.*
    from masked
    left join erased on masked.customer_id = erased.customer_id
    where erased.customer_id is null
),

anonymous_member as (
    select
        '{{ var("erased_customer_id") }}' as customer_id,
        '{{ var("erased_customer_id") }}' as customer_unique_id,
        cast(null as {{ dbt.type_string() }}) as zip_code_prefix_3,
        cast(null as {{ dbt.type_string() }}) as city,
        cast(null as {{ dbt.type_string() }}) as state_code,
        cast(null as {{ dbt.type_string() }}) as region,
        cast(null as {{ dbt.type_string() }}) as _source_object,
        cast(null as {{ dbt.type_string() }}) as _sha256,
        cast(null as {{ dbt.type_timestamp() }}) as _ingested_at
    {#- also once raw holds the person no more (their orders name this id) #}
    where exists (select 1 from requests)
),

final as (
    select * from kept
    union all
    select * from anonymous_member
)

select * from final
