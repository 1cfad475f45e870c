{{ config(**gold_incremental()) }}

{#- Incremental: only the orders changed since the last good build (see
    macros/engine/incremental.sql). -#}
with

reviews as (
    select * from {{ ref('silver_reviews') }}
    {{ changed_orders_only('order_id') }}
),

orders as (
    select * from {{ ref('silver_orders') }}
    {{ changed_orders_only('order_id') }}
),

customers as (
    select * from {{ ref('dim_customer') }}
),

final as (
    select
        reviews.review_key,
        reviews.review_id,
        reviews.order_id,
        customers.customer_key,
        orders.customer_id,
        reviews.review_score,
        reviews.comment_title is not null
        or reviews.comment_message is not null as has_comment,
        reviews.comment_title,
        reviews.comment_message,
        reviews.review_created_date,
        reviews.answered_at,
        case
            when orders.order_status = 'delivered'
                then orders.delivered_date > orders.estimated_delivery_date
        end as is_order_late
    from reviews
    inner join orders on reviews.order_id = orders.order_id
    left join customers
        on
            orders.customer_id = customers.customer_id
            and {{ valid_at('customers', 'orders.purchased_at') }}
)

select * from final
