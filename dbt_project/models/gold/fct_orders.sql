{{ config(**gold_incremental()) }}

{#- Incremental: only the orders changed since the last good build (see
    macros/engine/incremental.sql); the data's end date is read from all
    orders. -#}
with

orders as (
    select * from {{ ref('silver_orders') }}
    {{ changed_orders_only('order_id', open_orders=true) }}
),

all_orders as (
    select * from {{ ref('silver_orders') }}
),

items as (
    select * from {{ ref('silver_order_items') }}
    {{ changed_orders_only('order_id', open_orders=true) }}
),

payments as (
    select * from {{ ref('silver_payments') }}
    {{ changed_orders_only('order_id', open_orders=true) }}
),

reviews as (
    select * from {{ ref('silver_reviews') }}
    {{ changed_orders_only('order_id', open_orders=true) }}
),

customers as (
    select * from {{ ref('dim_customer') }}
),

order_items as (
    select
        order_id,
        count(*) as item_count,
        sum(price_brl) as items_brl,
        sum(freight_brl) as freight_brl
    from items
    group by 1
),

order_payments as (
    select
        order_id,
        count(*) as payment_count,
        sum(payment_value_brl) as payment_brl
    from payments
    group by 1
),

data_end as (
    select max(purchase_date) as data_end_date
    from all_orders
),

latest_review as (
    {{ latest_per_key('reviews', ['order_id'],
        'review_created_date desc, answered_at desc, review_id') }}
),

final as (
    select
        orders.order_id,
        customers.customer_key,
        orders.customer_id,
        orders.order_status,
        orders.purchase_date,
        orders.purchased_at,
        orders.approved_at,
        orders.delivered_to_carrier_at,
        orders.delivered_at,
        orders.delivered_date,
        orders.estimated_delivery_date,
        orders.order_status = 'delivered' as is_delivered,
        {{ is_lost_order('orders.order_status') }} as is_lost,
        case
            when orders.order_status = 'delivered'
                then orders.delivered_date > orders.estimated_delivery_date
        end as is_late,
        orders.order_status != 'delivered'
        and not {{ is_lost_order('orders.order_status') }}
        and orders.estimated_delivery_date < data_end.data_end_date
            as is_overdue,
        case
            when
                orders.order_status = 'delivered'
                or {{ is_lost_order('orders.order_status') }}
                then null
            when
                orders.estimated_delivery_date is null
                or orders.estimated_delivery_date >= data_end.data_end_date
                then 'in progress'
            when
                {{ dbt.datediff(
                    'orders.estimated_delivery_date',
                    'data_end.data_end_date',
                    'day'
                ) }} <= {{ var('stalled_after_days') }}
                then 'overdue'
            else 'stalled'
        end as open_order_bucket,
        -- integer on every engine (DuckDB's datediff gives bigint)
        cast({{ dbt.datediff(
            'orders.purchase_date', 'orders.delivered_date', 'day'
        ) }} as integer) as delivery_days,
        coalesce(order_items.item_count, 0) as item_count,
        -- money as decimal(18, 2) (to 10^16 BRL): DuckDB keeps a sum's
        -- decimal(38, 2) in 128 bits, which it reads about 100 times slower
        -- (every BI query, the gates and the publish read these columns)
        cast(coalesce(order_items.items_brl, 0) as decimal(18, 2)) as items_brl,
        cast(coalesce(order_items.freight_brl, 0) as decimal(18, 2))
            as freight_brl,
        coalesce(order_payments.payment_count, 0) as payment_count,
        cast(coalesce(order_payments.payment_brl, 0) as decimal(18, 2))
            as payment_brl,
        cast(
            case
                when {{ is_lost_order('orders.order_status') }} then 0
                else
                    coalesce(order_items.items_brl, 0)
                    + coalesce(order_items.freight_brl, 0)
            end as decimal(18, 2)
        ) as gmv_brl,
        latest_review.review_score
    from orders
    left join customers
        on
            orders.customer_id = customers.customer_id
            and {{ valid_at('customers', 'orders.purchased_at') }}
    left join order_items on orders.order_id = order_items.order_id
    left join order_payments on orders.order_id = order_payments.order_id
    left join latest_review on orders.order_id = latest_review.order_id
    cross join data_end
)

select * from final
