{% macro string_columns(model_names) -%}
    {#- [(model name, text column), ...] of these models as built, in the models'
        order and each table's column order: one catalog query where the engine
        has a catalog to ask (DuckDB, PostgreSQL), else one lookup per model.
        (A lookup per model prepares a macro context and a query each: most of
        a masking test's time on a small build.) -#}
    {{ return(adapter.dispatch('string_columns')(model_names)) }}
{%- endmacro %}

{% macro default__string_columns(model_names) -%}
    {%- set out = [] -%}
    {%- for name in model_names -%}
        {%- for column in adapter.get_columns_in_relation(ref(name))
            if column.is_string() -%}
            {%- do out.append((name, column.name)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(out) }}
{%- endmacro %}

{% macro _string_columns_from_catalog(model_names) -%}
    {#- The catalog's (information_schema.columns) rows for these models' tables,
        judged as adapter.get_columns_in_relation's columns are (is_string). -#}
    {%- set relations = [] -%}
    {%- for name in model_names -%}
        {%- do relations.append(ref(name)) -%}
    {%- endfor -%}
    {%- set query -%}
        select table_schema, table_name, column_name, data_type
        from information_schema.columns
        where
        {%- for relation in relations %}
            (table_catalog = '{{ relation.database }}'
            and table_schema = '{{ relation.schema }}'
            and table_name = '{{ relation.identifier }}')
            {% if not loop.last %}or{% endif %}
        {%- endfor %}
        order by table_name, ordinal_position
    {%- endset -%}
    {%- set found = {} -%}
    {%- for row in run_query(query).rows -%}
        {%- set column = api.Column.create(row[2], row[3]) -%}
        {%- if column.is_string() -%}
            {%- do found.setdefault((row[0], row[1]), []).append(row[2]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set out = [] -%}
    {%- for name in model_names -%}
        {%- set relation = relations[loop.index0] -%}
        {%- for column in found.get((relation.schema, relation.identifier), []) -%}
            {%- do out.append((name, column)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(out) }}
{%- endmacro %}

{% macro duckdb__string_columns(model_names) -%}
    {{ return(_string_columns_from_catalog(model_names)) }}
{%- endmacro %}

{% macro postgres__string_columns(model_names) -%}
    {{ return(_string_columns_from_catalog(model_names)) }}
{%- endmacro %}
