{% macro generalize_small_cells(relation, columns, person, cell, column,
    generalized, k) -%}
    {#- The rows of `relation` (its `columns`, in order) with `column` replaced
        by `generalized` where the cell (the values of the `cell` columns,
        `column` among them) holds fewer than k distinct persons. Persons are
        counted with windows: PostgreSQL and Spark have no count(distinct)
        over a window. -#}
    {{ return(adapter.dispatch('generalize_small_cells')(
        relation, columns, person, cell, column, generalized, k
    )) }}
{%- endmacro %}

{% macro default__generalize_small_cells(relation, columns, person, cell,
    column, generalized, k) -%}
    select
        {%- for name in columns %}
        {%- if name == column %}
        case
            when sum(case when first_in_cell then 1 else 0 end) over (
                partition by {{ cell | join(', ') }}
            ) >= {{ k }}
                then {{ name }}
            else {{ generalized }}
        end as {{ name }}
        {%- else %}
        {{ name }}
        {%- endif %}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from (
        select
            *,
            row_number() over (
                partition by {{ person }}, {{ cell | join(', ') }}
                order by {{ person }}
            ) = 1 as first_in_cell
        from {{ relation }}
    ) as cells
{%- endmacro %}
