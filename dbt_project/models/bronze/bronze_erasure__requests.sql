{{ config(materialized='ephemeral') }}

{#- Ephemeral on purpose: the erased pseudonyms are never stored in a layer. -#}
with

requests as (
    select * from {{ source('erasure', 'requests') }}
),

final as (
    select distinct customer_unique_pseudonym
    from requests
    where customer_unique_pseudonym is not null
)

select * from final
