{#- Gold's foreign keys (_gold__models.yml) are created on PostgreSQL, which
    serves them. DuckDB leaves them out: it cannot rebuild a table another
    table's foreign key points at without dropping and restoring that table,
    which fails when two models rebuild at once (a catalog write-write
    conflict on the second `dbt build` of the same file). Its primary keys and
    column types are created and enforced as declared; the relationships tests
    check the references on every engine. -#}

{% macro duckdb__get_table_columns_and_constraints() -%}
    {%- set column_constraints = adapter.render_raw_columns_constraints(
        raw_columns=model['columns']) -%}
    {%- set model_constraints = adapter.render_raw_model_constraints(
        raw_constraints=model['constraints']
        | rejectattr('type', 'equalto', 'foreign_key') | list) -%}
    (
    {% for c in column_constraints -%}
        {{ c }}{{ "," if not loop.last or model_constraints }}
    {% endfor %}
    {% for c in model_constraints -%}
        {{ c }}{{ "," if not loop.last }}
    {% endfor -%}
    )
{%- endmacro %}

{% macro enforced_constraint_types() -%}
    {#- dbt-duckdb's own, foreign keys left out as above: a model that declares
        one is not built in place (see has_foreign_key_constraints). -#}
    {%- set types = [] -%}
    {%- if config.get('contract') and config.get('contract').enforced -%}
        {%- for constraint in model.get('constraints', []) -%}
            {%- do types.append(constraint.type) -%}
        {%- endfor -%}
        {%- for column in model.get('columns', {}).values() -%}
            {%- for constraint in column.get('constraints', []) -%}
                {%- do types.append(constraint.type) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(types | reject('equalto', 'foreign_key') | list) }}
{%- endmacro %}
