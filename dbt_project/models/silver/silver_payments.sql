{{ config(**silver_incremental(natural_key('order_payments'))) }}

with

payments as (
    {{ touched_rows(
        ref('bronze_olist__order_payments'),
        natural_key('order_payments'),
    ) }}
),

latest as (
    {{ latest_per_key('payments', natural_key('order_payments')) }}
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
