{#- From var dim_date_start to var dim_date_end, by default the start of
    the year after next: orders placed today (a late or live delivery) have
    their day. -#}
{%- set end_date = var('dim_date_end', none)
    or ((modules.datetime.date.today().year + 2) ~ '-01-01') -%}

with

days as (
    {{ dbt.date_spine(
        datepart="day",
        start_date="cast('" ~ var('dim_date_start') ~ "' as date)",
        end_date="cast('" ~ end_date ~ "' as date)"
    ) }}
),

final as (
    select
        cast(date_day as date) as date_day,
        cast(extract(year from date_day) as integer) as calendar_year,
        cast(extract(quarter from date_day) as integer) as calendar_quarter,
        cast(extract(month from date_day) as integer) as calendar_month,
        cast(extract(day from date_day) as integer) as day_of_month,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date)
            as month_start_date,
        cast(extract(isodow from date_day) as integer) as iso_day_of_week,
        extract(isodow from date_day) in (6, 7) as is_weekend
    from days
)

select * from final
