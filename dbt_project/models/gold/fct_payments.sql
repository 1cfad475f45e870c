with

payments as (
    select * from {{ ref('silver_payments') }}
),

orders as (
    select * from {{ ref('silver_orders') }}
),

final as (
    select
        {{ surrogate_key([
            'payments.order_id', 'payments.payment_sequential'
        ]) }} as payment_key,
        payments.order_id,
        payments.payment_sequential,
        orders.customer_id,
        orders.purchase_date,
        payments.payment_type,
        payments.installments,
        payments.payment_value_brl
    from payments
    inner join orders on payments.order_id = orders.order_id
)

select * from final
