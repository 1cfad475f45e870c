{{ config(enabled=var('apis_enabled', true), tags=['apis']) }}

{#- Grain: one row per calendar month. IPCA of the month and its index
    (100 before the first month), Selic target average and Selic accumulated
    in the month. -#}
with

indicators as (
    select * from {{ ref('silver_economic_indicators') }}
),

monthly as (
    select
        cast({{ dbt.date_trunc('month', 'reference_date') }} as date)
            as month_start_date,
        max(case when indicator = 'ipca_monthly_pct' then value_pct end)
            as ipca_pct,
        avg(case when indicator = 'selic_target_pct_year' then value_pct end)
            as selic_target_avg_pct_year,
        (
            exp(sum(
                case
                    when indicator = 'selic_daily_pct'
                        then ln(1 + value_pct / 100)
                end
            )) - 1
        ) * 100 as selic_accumulated_pct
    from indicators
    group by 1
),

final as (
    -- double precision on every engine (PostgreSQL's numeric arithmetic would
    -- give numeric, DuckDB's gives double): the contract declares one type
    select
        month_start_date,
        ipca_pct,
        cast(
            100 * exp(sum(ln(1 + coalesce(ipca_pct, 0) / 100)) over (
                order by month_start_date rows unbounded preceding
            )) as double precision
        ) as ipca_index,
        cast(selic_target_avg_pct_year as double precision)
            as selic_target_avg_pct_year,
        cast(selic_accumulated_pct as double precision) as selic_accumulated_pct
    from monthly
)

select * from final
