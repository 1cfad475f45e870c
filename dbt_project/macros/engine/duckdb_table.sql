{#- dbt-duckdb's table materialization builds each table under a temporary name,
    renames the old one away, renames the new one into place and drops the old
    one, with a look at the indexes and keys of each: eight statements a model,
    where building the table itself is often the quickest at a run's sizes. This
    project's DuckDB tables have no foreign keys (duckdb_foreign_keys.sql), so
    none can point at a table being replaced: it is dropped and built again under
    its own name inside one transaction, which a failed build rolls back (the old
    table stays, as with the renames), and another connection sees the old table
    or the new one, never neither. Three statements: begin, drop and create,
    commit. Contracts, indexes, grants, docs and hooks as dbt-duckdb does them. -#}

{% materialization table, adapter="duckdb", supported_languages=['sql'] %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {% do adapter.ensure_transaction() %}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {% if existing_relation is not none %}
        {% do adapter.drop_relation(existing_relation) %}
    {% endif %}
    {% call statement('main') -%}
        {{- create_table_as(False, target_relation, compiled_code) }}
    {%- endcall %}
    {% do create_indexes(target_relation) %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) %}
    {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}
    {% do persist_docs(target_relation, model) %}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
