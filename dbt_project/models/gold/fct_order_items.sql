with

items as (
    select * from {{ ref('silver_order_items') }}
),

orders as (
    select * from {{ ref('silver_orders') }}
),

final as (
    select
        {{ surrogate_key(['items.order_id', 'items.order_item_id']) }}
            as order_item_key,
        items.order_id,
        items.order_item_id,
        items.product_id,
        items.seller_id,
        orders.customer_id,
        orders.purchase_date,
        items.shipping_limit_at,
        items.price_brl,
        items.freight_brl,
        items.price_brl + items.freight_brl as total_brl
    from items
    inner join orders on items.order_id = orders.order_id
)

select * from final
