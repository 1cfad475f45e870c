{{ config(**silver_incremental(['order_id', 'payment_sequential'])) }}

with

payments as (
    {{ touched_rows(
        ref('bronze_olist__order_payments'),
        ['order_id', 'payment_sequential'],
    ) }}
),

latest as (
    {{ latest_per_key('payments', ['order_id', 'payment_sequential']) }}
),

final as (
    select
        order_id,
        cast(payment_sequential as integer) as payment_sequential,
        lower(trim(payment_type)) as payment_type,
        cast(payment_installments as integer) as installments,
        cast(payment_value as decimal(12, 2)) as payment_value_brl,
        _source_object,
        _sha256,
        _ingested_at
    from latest
)

select * from final
