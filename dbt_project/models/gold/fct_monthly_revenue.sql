{{ config(enabled=var('apis_enabled', true), tags=['apis']) }}

{#- Grain: one row per purchase month. Revenue (payments of orders not
    canceled or unavailable) in nominal reais and in constant reais of
    var('constant_reais_month') (default: the latest month with IPCA). -#}
with

orders as (
    select * from {{ ref('fct_orders') }}
),

indicators as (
    select * from {{ ref('fct_economic_indicators') }}
),

revenue as (
    select
        cast({{ dbt.date_trunc('month', 'purchase_date') }} as date)
            as month_start_date,
        count(*) as orders,
        sum(payment_brl) as revenue_nominal_brl
    from orders
    where order_status not in ('canceled', 'unavailable')
    group by 1
),

{%- set base_month = var('constant_reais_month', none) %}

base_month as (
    select
        {{ "cast('" ~ base_month ~ "' as date)" if base_month
            else "max(month_start_date)" }} as month_start_date
    from indicators
    where ipca_pct is not null
),

base as (
    select indicators.ipca_index as base_index
    from indicators
    inner join base_month
        on indicators.month_start_date = base_month.month_start_date
),

final as (
    select
        revenue.month_start_date,
        revenue.orders,
        revenue.revenue_nominal_brl,
        indicators.ipca_index,
        revenue.revenue_nominal_brl * base.base_index / indicators.ipca_index
            as revenue_constant_brl
    from revenue
    left join indicators
        on revenue.month_start_date = indicators.month_start_date
    cross join base
)

select * from final
