with

reviews as (
    select * from {{ ref('silver_reviews') }}
),

orders as (
    select * from {{ ref('silver_orders') }}
),

final as (
    select
        reviews.review_key,
        reviews.review_id,
        reviews.order_id,
        orders.customer_id,
        reviews.review_score,
        reviews.comment_title is not null
        or reviews.comment_message is not null as has_comment,
        reviews.comment_title,
        reviews.comment_message,
        reviews.review_created_date,
        reviews.answered_at,
        coalesce(orders.delivered_date > orders.estimated_delivery_date, false)
            as is_order_late
    from reviews
    inner join orders on reviews.order_id = orders.order_id
)

select * from final
