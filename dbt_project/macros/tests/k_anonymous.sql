{% test k_anonymous(model, columns, person, k, suppressed='OTHER') %}
    {#- One row per combination of the columns that shows something and holds
        fewer than k distinct persons (its count only, never its values). A
        combination whose every column is null or `suppressed` shows nothing. -#}
    with

    cells as (
        select
            {{ columns | join(', ') }},
            count(distinct {{ person }}) as persons
        from {{ model }}
        where
            {%- for column in columns %}
            coalesce({{ column }}, '{{ suppressed }}') != '{{ suppressed }}'
            {%- if not loop.last %} or{% endif %}
            {%- endfor %}
        group by {{ columns | join(', ') }}
    )

    select persons
    from cells
    where persons < {{ k }}
{% endtest %}
