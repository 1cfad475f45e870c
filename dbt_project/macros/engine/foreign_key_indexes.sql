{% macro postgres__create_indexes(relation) -%}
    {#- dbt's own (the `indexes` config), plus one index per foreign key a
        model's contract declares: PostgreSQL does not index the referencing
        columns itself, and the dashboards join facts to dimensions on them. -#}
    {%- set indexes = config.get('indexes', default=[]) | list -%}
    {%- for constraint in model.get('constraints', []) -%}
        {%- if constraint.type == 'foreign_key' -%}
            {%- do indexes.append({'columns': constraint.columns}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if indexes -%}
        {#- the foreign keys are deferred (postgres_foreign_keys.sql): checked
            now, as PostgreSQL builds no index on a table with checks pending -#}
        {%- do run_query('set constraints all immediate') -%}
    {%- endif -%}
    {%- for index in indexes -%}
        {%- set create_index_sql = get_create_index_sql(relation, index) -%}
        {%- if create_index_sql -%}
            {%- do run_query(create_index_sql) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}
