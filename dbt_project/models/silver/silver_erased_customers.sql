{{ config(materialized='ephemeral') }}

{#- The pseudonymized customer_ids of the people in the erasure register.
    Ephemeral on purpose: it is inlined where used and never stored. -#}
with

customers as (
    select * from {{ ref('bronze_olist__customers') }}
),

requests as (
    select * from {{ ref('bronze_erasure__requests') }}
),

final as (
    select distinct {{ pseudonymize('customers.customer_id') }} as customer_id
    from customers
    inner join requests
        on
            {{ pseudonymize('customers.customer_unique_id') }}
            = requests.customer_unique_pseudonym
)

select * from final
