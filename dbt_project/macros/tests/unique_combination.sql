{% test unique_combination(model, columns) %}
    {#- The combination of columns is unique (a portable stand-in for dbt_utils). -#}
    select
        {{ columns | join(', ') }},
        count(*) as duplicate_rows
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
