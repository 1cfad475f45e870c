{{ config(enabled=var('apis_enabled', true), tags=['apis']) }}

{#- Grain: one row per purchase month. GMV (item price + freight of orders
    not lost) and payments of the same orders, in nominal reais and in constant
    reais of the month of var('constant_reais_month') (any day of it; default:
    the latest month with IPCA). Constant reais are null when that month has no
    IPCA. -#}
{%- set base_day = var('constant_reais_month', none) %}

with

orders as (
    select * from {{ ref('fct_orders') }}
    where not is_lost
),

indicators as (
    select * from {{ ref('fct_economic_indicators') }}
),

revenue as (
    select
        cast({{ dbt.date_trunc('month', 'purchase_date') }} as date)
            as month_start_date,
        count(*) as orders,
        -- decimal(18, 2) as in fct_orders (a sum is decimal(38, 2))
        cast(sum(gmv_brl) as decimal(18, 2)) as gmv_nominal_brl,
        cast(sum(payment_brl) as decimal(18, 2)) as revenue_nominal_brl
    from orders
    group by 1
),

base_month as (
    {%- if base_day %}
    select
        cast(
            {{ dbt.date_trunc('month', "cast('" ~ base_day ~ "' as date)") }}
            as date
        ) as month_start_date
    {%- else %}
    select max(month_start_date) as month_start_date
    from indicators
    where ipca_pct is not null
    {%- endif %}
),

base as (
    select indicators.ipca_index as base_index
    from base_month
    left join indicators
        on base_month.month_start_date = indicators.month_start_date
),

final as (
    select
        revenue.month_start_date,
        revenue.orders,
        revenue.gmv_nominal_brl,
        revenue.revenue_nominal_brl,
        indicators.ipca_index,
        cast(
            revenue.gmv_nominal_brl * base.base_index / indicators.ipca_index
            as decimal(18, 2)
        ) as gmv_constant_brl,
        cast(
            revenue.revenue_nominal_brl
            * base.base_index
            / indicators.ipca_index
            as decimal(18, 2)
        ) as revenue_constant_brl
    from revenue
    left join indicators
        on revenue.month_start_date = indicators.month_start_date
    cross join base
)

select * from final
