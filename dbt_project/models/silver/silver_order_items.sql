{{ config(**silver_incremental(natural_key('order_items'))) }}

with

items as (
    {{ touched_rows(
        ref('bronze_olist__order_items'), natural_key('order_items')
    ) }}
),

latest as (
    {{ latest_per_key('items', natural_key('order_items')) }}
),

final as (
    select
        order_id,
        cast(order_item_id as integer) as order_item_id,
        product_id,
        seller_id,
        {{ local_to_utc('cast(shipping_limit_date as timestamp)') }}
            as shipping_limit_at,
        cast(price as decimal(12, 2)) as price_brl,
        cast(freight_value as decimal(12, 2)) as freight_brl,
        _source_object,
        _sha256,
        _ingested_at
    from latest
)

select * from final
