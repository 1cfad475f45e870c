{#- Gold's foreign keys on PostgreSQL are DEFERRABLE INITIALLY DEFERRED: the
    order facts are incremental (delete+insert by order_id), so recomputing an
    order deletes its fct_orders row while fct_order_items, fct_payments and
    fct_reviews still refer to it, and inserts it again in the same
    transaction. A deferred key is checked at commit, when the order is back;
    an immediate one would refuse the delete. Column types, primary keys and
    every other constraint are rendered as dbt renders them. -#}

{% macro postgres__get_table_columns_and_constraints() -%}
    {%- set column_constraints = adapter.render_raw_columns_constraints(
        raw_columns=model['columns']) -%}
    {%- set model_constraints = adapter.render_raw_model_constraints(
        raw_constraints=model['constraints']) -%}
    (
    {% for c in column_constraints -%}
        {{ c }}{{ "," if not loop.last or model_constraints }}
    {% endfor %}
    {% for c in model_constraints -%}
        {{ c }}{{ " deferrable initially deferred" if "foreign key" in c }}{{ "," if not loop.last }}
    {% endfor -%}
    )
{%- endmacro %}
