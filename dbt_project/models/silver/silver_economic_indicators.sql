{{ config(enabled=var('apis_enabled', true), tags=['apis']) }}

{#- One row per indicator and reference date; re-deliveries keep the latest. -#}
with

ipca as (
    select * from {{ ref('bronze_bcb__ipca') }}
),

selic_target as (
    select * from {{ ref('bronze_bcb__selic_target') }}
),

selic_daily as (
    select * from {{ ref('bronze_bcb__selic_daily') }}
),

unioned as (
    select
        'ipca_monthly_pct' as indicator,
        *
    from ipca
    union all
    select
        'selic_target_pct_year' as indicator,
        *
    from selic_target
    union all
    select
        'selic_daily_pct' as indicator,
        *
    from selic_daily
),

latest as (
    {{ latest_per_key('unioned', ['indicator', 'reference_date_text']) }}
),

final as (
    select
        indicator,
        series_code,
        {{ parse_br_date('reference_date_text') }} as reference_date,
        cast(value_text as decimal(18, 6)) as value_pct,
        _source_object,
        _sha256,
        _ingested_at
    from latest
)

select * from final
