{{ config(**bronze_incremental()) }}

{%- set columns = [
        'review_id',
        'order_id',
        'review_score',
        'review_comment_title',
        'review_comment_message',
        'review_creation_date',
        'review_answer_timestamp',
] -%}

with

manifest as (
    select * from {{ source('olist', 'order_reviews') }}
),

raw_rows as (
    select * from {{ read_raw_csv(source('olist', 'order_reviews'), columns) }}
),

final as (
    select
        raw_rows.review_id,
        raw_rows.order_id,
        raw_rows.review_score,
        raw_rows.review_comment_title,
        raw_rows.review_comment_message,
        raw_rows.review_creation_date,
        raw_rows.review_answer_timestamp,
        manifest.object_key as _source_object,
        manifest.sha256 as _sha256,
        cast(manifest.ingested_at as timestamp) as _ingested_at
    from raw_rows
    inner join manifest
        on {{ raw_object_sha('raw_rows.filename') }} = manifest.sha256
)

select * from final
