{#- Grain: one row per (review_id, order_id). The export reuses a review_id for
    several orders of one purchase and gives some orders several reviews; both are
    kept. Re-deliveries of the same pair keep the latest ingested version, then the
    latest answer. -#}
with

reviews as (
    select * from {{ ref('bronze_olist__order_reviews') }}
),

latest as (
    {{ latest_per_key('reviews', ['review_id', 'order_id'],
        '_ingested_at desc, review_answer_timestamp desc, _source_object desc') }}
),

final as (
    select
        {{ surrogate_key(['review_id', 'order_id']) }} as review_key,
        review_id,
        order_id,
        cast(review_score as integer) as review_score,
        {{ redact_text("nullif(review_comment_title, '')") }} as comment_title,
        {{ redact_text("nullif(review_comment_message, '')") }}
            as comment_message,
        cast(cast(review_creation_date as timestamp) as date)
            as review_created_date,
        {{ local_to_utc('cast(review_answer_timestamp as timestamp)') }}
            as answered_at,
        _source_object,
        _sha256,
        _ingested_at
    from latest
)

select * from final
