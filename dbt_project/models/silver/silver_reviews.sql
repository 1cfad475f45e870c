{{ config(**silver_incremental(natural_key('order_reviews'))) }}

{#- Grain: one row per (review_id, order_id). The export reuses a review_id for
    several orders of one purchase and gives some orders several reviews; both are
    kept. Re-deliveries of the same pair keep the latest ingested version, then the
    latest answer. Texts of erased customers are dropped. -#}
with

reviews as (
    {{ touched_rows(
        ref('bronze_olist__order_reviews'), natural_key('order_reviews')
    ) }}
),

orders as (
    select * from {{ ref('silver_orders') }}
),

latest as (
    {{ latest_per_key('reviews', natural_key('order_reviews'),
        '_ingested_at desc, review_answer_timestamp desc, _source_object desc') }}
),

with_owner as (
    select
        latest.*,
        coalesce(
            orders.customer_id = '{{ var("erased_customer_id") }}', false
        ) as is_erased
    from latest
    left join orders on latest.order_id = orders.order_id
),

final as (
    select
        {{ surrogate_key(['review_id', 'order_id']) }} as review_key,
        review_id,
        order_id,
        cast(review_score as integer) as review_score,
        case
            when not is_erased
                then {{ redact_text(
                    "nullif(" ~ unix_newlines('review_comment_title') ~ ", '')"
                ) }}
        end as comment_title,
        case
            when not is_erased
                then {{ redact_text(
                    "nullif(" ~ unix_newlines('review_comment_message') ~ ", '')"
                ) }}
        end as comment_message,
        cast(cast(review_creation_date as timestamp) as date)
            as review_created_date,
        {{ local_to_utc('cast(review_answer_timestamp as timestamp)') }}
            as answered_at,
        _source_object,
        _sha256,
        _ingested_at
    from with_owner
)

select * from final
