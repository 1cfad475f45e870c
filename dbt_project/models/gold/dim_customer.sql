with

customers as (
    select * from {{ ref('silver_customers') }}
),

states as (
    select * from {{ ref('brazil_states') }}
),

final as (
    select
        customers.customer_id,
        customers.customer_unique_id,
        customers.zip_code_prefix_3,
        customers.city,
        customers.state_code,
        states.state_name,
        customers.region
    from customers
    left join states on customers.state_code = states.state_code
)

select * from final
