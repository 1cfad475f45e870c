{{ config(**gold_incremental()) }}

{#- Incremental: only the orders changed since the last good build (see
    macros/engine/incremental.sql). -#}
with

items as (
    select * from {{ ref('silver_order_items') }}
    {{ changed_orders_only('order_id', items_dims=true) }}
),

orders as (
    select * from {{ ref('silver_orders') }}
    {{ changed_orders_only('order_id', items_dims=true) }}
),

products as (
    select * from {{ ref('dim_product') }}
),

sellers as (
    select * from {{ ref('dim_seller') }}
),

customers as (
    select * from {{ ref('dim_customer') }}
),

final as (
    select
        {{ surrogate_key(['items.order_id', 'items.order_item_id']) }}
            as order_item_key,
        items.order_id,
        items.order_item_id,
        products.product_key,
        items.product_id,
        sellers.seller_key,
        items.seller_id,
        customers.customer_key,
        orders.customer_id,
        orders.purchase_date,
        orders.order_status,
        {{ is_lost_order('orders.order_status') }} as is_lost,
        items.shipping_limit_at,
        items.price_brl,
        items.freight_brl,
        items.price_brl + items.freight_brl as total_brl,
        case
            when {{ is_lost_order('orders.order_status') }} then 0
            else items.price_brl + items.freight_brl
        end as gmv_brl
    from items
    inner join orders on items.order_id = orders.order_id
    left join products
        on
            items.product_id = products.product_id
            and {{ valid_at('products', 'orders.purchased_at') }}
    left join sellers
        on
            items.seller_id = sellers.seller_id
            and {{ valid_at('sellers', 'orders.purchased_at') }}
    left join customers
        on
            orders.customer_id = customers.customer_id
            and {{ valid_at('customers', 'orders.purchased_at') }}
)

select * from final
