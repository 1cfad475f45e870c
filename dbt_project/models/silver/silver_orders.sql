{{ config(**silver_incremental(natural_key('orders'))) }}

with

orders as (
    {{ touched_rows(ref('bronze_olist__orders'), natural_key('orders')) }}
),

erased as (
    select * from {{ ref('silver_erased_customers') }}
),

latest as (
    {{ latest_per_key('orders', natural_key('orders')) }}
),

typed as (
    select
        order_id,
        customer_id,
        lower(trim(order_status)) as order_status,
        cast(order_purchase_timestamp as timestamp) as purchased_local,
        cast(nullif(order_approved_at, '') as timestamp) as approved_local,
        cast(nullif(order_delivered_carrier_date, '') as timestamp)
            as carrier_local,
        cast(nullif(order_delivered_customer_date, '') as timestamp)
            as delivered_local,
        cast(cast(order_estimated_delivery_date as timestamp) as date)
            as estimated_delivery_date,
        _source_object,
        _sha256,
        _ingested_at
    from latest
),

pseudonymized as (
    select
        typed.*,
        {{ pseudonymize('typed.customer_id') }} as customer_pseudonym
    from typed
),

final as (
    select
        pseudonymized.order_id,
        case
            when
                erased.customer_id is not null
                or pseudonymized.customer_id = '{{ var("erased_customer_id") }}'
                then '{{ var("erased_customer_id") }}'
            else pseudonymized.customer_pseudonym
        end as customer_id,
        order_status,
        {{ local_to_utc('purchased_local') }} as purchased_at,
        {{ local_to_utc('approved_local') }} as approved_at,
        {{ local_to_utc('carrier_local') }} as delivered_to_carrier_at,
        {{ local_to_utc('delivered_local') }} as delivered_at,
        cast(purchased_local as date) as purchase_date,
        cast(delivered_local as date) as delivered_date,
        estimated_delivery_date,
        _source_object,
        _sha256,
        _ingested_at
    from pseudonymized
    left join erased on pseudonymized.customer_pseudonym = erased.customer_id
)

select * from final
