{{ config(**gold_incremental()) }}

{#- Incremental: only the orders changed since the last good build (see
    macros/engine/incremental.sql). -#}
with

payments as (
    select * from {{ ref('silver_payments') }}
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
        {{ surrogate_key([
            'payments.order_id', 'payments.payment_sequential'
        ]) }} as payment_key,
        payments.order_id,
        payments.payment_sequential,
        customers.customer_key,
        orders.customer_id,
        orders.purchase_date,
        orders.order_status,
        {{ is_lost_order('orders.order_status') }} as is_lost,
        payments.payment_type,
        payments.installments,
        payments.payment_value_brl
    from payments
    inner join orders on payments.order_id = orders.order_id
    left join customers
        on
            orders.customer_id = customers.customer_id
            and {{ valid_at('customers', 'orders.purchased_at') }}
)

select * from final
