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

{#- A table PostgreSQL replaces (a dimension on every build, an order fact on
    --full-refresh) takes with it the foreign keys other gold tables hold on it:
    dbt renames the old table aside and drops it with cascade after the commit,
    and the facts that keep their table (incremental) never make their keys
    again. The pipeline adds them on its copy of gold_staging, but an analyst's
    second `dbt build` left their gold with 2 of its 11. So after a referenced
    model is made, inside its transaction, each key a built gold table declares
    on it is moved from the old table to the new one: dropped where it points at
    the old table (so the drop after the commit touches no other table) and added
    on the new one, deferrable as declared, each child locked first in one order
    (two dimensions are built at once). A child this invocation makes anew itself
    is left to its own contract (in a full refresh, every fact). A kept fact can
    still hold rows the new table no longer has (a dimension rebuilt alone after
    an erasure took a customer): that key is added NOT VALID (checked for every
    new row, not the old ones), dbt's log says so, and the fact validates it when
    it is built again, failing on a row still orphaned. -#}

{% macro restore_referencing_keys() -%}
    {%- if execute and target.type == 'postgres' and model.resource_type == 'model'
        and model.config.materialized in ('table', 'incremental') -%}
        {%- if not (model.config.materialized == 'incremental' and is_incremental()) -%}
            {%- do move_referencing_keys() -%}
        {%- endif -%}
        {%- do restore_own_keys() -%}
        {%- do validate_held_keys() -%}
    {%- endif -%}
{%- endmacro %}

{% macro move_referencing_keys() -%}
    {%- set wanted = [] -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and not replaced_in_this_run(node) -%}
        {%- for key in declared_foreign_keys(node) if key.to == model.name -%}
            {%- do key.update({'child': built_relation(node.name)}) -%}
            {%- do wanted.append(key) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if wanted -%}
        {%- set parent = this.include(database=false) -%}
        {%- set old = make_backup_relation(this, 'table').include(database=false) -%}
        {%- call statement('referencing_keys', fetch_result=true) -%}
            select
                case when k.confrelid = '{{ parent }}'::regclass
                    then 'held' else 'old' end as kind,
                ns.nspname as schema_name,
                child.relname as table_name,
                {{ key_column_names('k') }} as column_names,
                k.conname
            from pg_constraint as k
            inner join pg_class as child on k.conrelid = child.oid
            inner join pg_namespace as ns on child.relnamespace = ns.oid
            where
                k.contype = 'f'
                and k.confrelid in ('{{ parent }}'::regclass, to_regclass('{{ old }}'))
            union all
            select 'built', ns.nspname, c.relname, '', ''
            from pg_class as c
            inner join pg_namespace as ns on c.relnamespace = ns.oid
            where c.relkind in ('r', 'p') and (ns.nspname, c.relname) in (
                {%- for key in wanted %}
                ('{{ key.child.schema }}', '{{ key.child.identifier }}')
                {{- "," if not loop.last }}
                {%- endfor %}
            )
        {%- endcall -%}
        {%- set held, old, built = [], [], [] -%}
        {%- for row in load_result('referencing_keys')['table'].rows -%}
            {%- if row[0] == 'held' -%}
                {%- do held.append([row[1], row[2], row[3]]) -%}
            {%- elif row[0] == 'old' -%}
                {%- do old.append([row[1], row[2], row[3], row[4]]) -%}
            {%- else -%}
                {%- do built.append([row[1], row[2]]) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set moving = [] -%}
        {%- for key in wanted -%}
            {%- set child = [key.child.schema, key.child.identifier] -%}
            {%- if child in built
                and child + [key.columns | join(',') | lower] not in held -%}
                {%- do moving.append(key) -%}
            {%- endif -%}
        {%- endfor -%}
        {#- each child locked first, all in one order, before anything reads it:
            two dimensions built at once would otherwise both read a fact, then
            both wait to alter it (a deadlock PostgreSQL breaks by failing one) -#}
        {%- for child in moving | map(attribute='child') | map('string') | unique | sort -%}
            {%- call statement('lock_' ~ loop.index) -%}
                lock table {{ child }} in access exclusive mode
            {%- endcall -%}
        {%- endfor -%}
        {%- for key in moving -%}
            {%- set child = [key.child.schema, key.child.identifier] -%}
            {%- set columns = key.columns | join(',') | lower -%}
            {%- for stale in old if stale[:3] == child + [columns] -%}
                {%- call statement('unhook_' ~ stale[3]) -%}
                    alter table {{ key.child }}
                    drop constraint {{ adapter.quote(stale[3]) }}
                {%- endcall -%}
            {%- endfor -%}
            {%- do add_foreign_key(key, parent) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{% macro replaced_in_this_run(node) -%}
    {#- Whether this invocation makes node's table anew (a selected table, or a
        selected incremental model on a full refresh): it gets its keys from its
        contract then, and a key added on its old table would make dbt's drop of
        that table lock the parents while other models take them (a deadlock
        seen in a full refresh). -#}
    {%- set full_refresh = node.config.get('full_refresh') -%}
    {%- if full_refresh is none -%}
        {%- set full_refresh = flags.FULL_REFRESH -%}
    {%- endif -%}
    {{ return(node.unique_id in selected_resources and (
        node.config.materialized == 'table'
        or (node.config.materialized == 'incremental' and full_refresh)
    )) }}
{%- endmacro %}

{% macro add_foreign_key(
    key, parent, why='dropped with the table this build replaced'
) -%}
    {#- key's foreign key on parent, NOT VALID when the child holds rows parent
        lacks (said in dbt's log). -#}
    {%- set orphaned = false -%}
    {%- if key.to_columns -%}
        {%- call statement('orphans', fetch_result=true) -%}
            select exists (
                select 1 from {{ key.child }} as c
                where
                    {% for column in key.columns -%}
                    c.{{ column }} is not null and
                    {% endfor -%}
                    not exists (
                        select 1 from {{ parent }} as p
                        where
                            {% for column in key.columns -%}
                            p.{{ key.to_columns[loop.index0] }} = c.{{ column }}
                            {{- " and" if not loop.last }}
                            {% endfor %}
                    )
            )
        {%- endcall -%}
        {%- set orphaned = load_result('orphans')['table'].rows[0][0] -%}
    {%- endif -%}
    {%- set said = key.child ~ ' (' ~ key.columns | join(', ')
        ~ '): its foreign key on ' ~ parent ~ ', ' ~ why ~ ', is made again' -%}
    {%- if orphaned -%}
        {%- do log(
            said ~ ' NOT VALID: it holds rows the new table lacks, checked when '
            ~ key.child.identifier ~ ' is built again',
            info=true
        ) -%}
    {%- else -%}
        {%- do log(said, info=true) -%}
    {%- endif -%}
    {%- call statement('restore_' ~ key.child.identifier) -%}
        alter table {{ key.child }}
        add foreign key ({{ key.columns | join(', ') }})
        references {{ parent }}
        {%- if key.to_columns %} ({{ key.to_columns | join(', ') }}){% endif %}
        deferrable initially deferred
        {{- " not valid" if orphaned }}
    {%- endcall -%}
{%- endmacro %}

{% macro restore_own_keys() -%}
    {#- The keys this model declares that its table lacks, added back, parents in
        one order. A kept fact loses one when its parent is replaced while the
        fact was to be made anew and that build failed (a full refresh stopped
        half way), or by hand; its next build puts it back. -#}
    {%- set declared = [] -%}
    {%- for key in declared_foreign_keys(model) | sort(attribute='to') -%}
        {%- do key.update({
            'child': this,
            'parent': built_relation(key.to).include(database=false),
        }) -%}
        {%- do declared.append(key) -%}
    {%- endfor -%}
    {%- if declared -%}
        {%- call statement('own_keys', fetch_result=true) -%}
            select
                d.i,
                to_regclass(d.parent) is not null as parent_built,
                exists (
                    select 1 from pg_constraint as k
                    where
                        k.contype = 'f'
                        and k.conrelid = '{{ this.include(database=false) }}'::regclass
                        and k.confrelid = to_regclass(d.parent)
                        and {{ key_column_names('k') }} = d.column_names
                ) as held
            from (values
                {%- for key in declared %}
                ({{ loop.index0 }}, '{{ key.parent }}', '{{ key.columns | join(",") | lower }}')
                {{- "," if not loop.last }}
                {%- endfor %}
            ) as d (i, parent, column_names)
            order by d.i
        {%- endcall -%}
        {%- set missing = load_result('own_keys')['table'].rows
            | selectattr(1) | rejectattr(2) | list -%}
        {%- if missing -%}
            {#- this build's deferred checks first (validate_held_keys says why) -#}
            {%- do run_query('set constraints all immediate') -%}
        {%- endif -%}
        {%- for row in missing -%}
            {%- set key = declared[row[0] | int] -%}
            {%- do add_foreign_key(key, key.parent, 'missing from this table') -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{% macro validate_held_keys() -%}
    {#- The keys this model's table holds NOT VALID (made again on a replaced
        parent while it held rows the parent lost), validated now that it is
        built: a row still orphaned fails this build, named by PostgreSQL. -#}
    {%- call statement('unvalidated_keys', fetch_result=true) -%}
        select conname from pg_constraint
        where
            contype = 'f' and not convalidated
            and conrelid = '{{ this.include(database=false) }}'::regclass
        order by conname
    {%- endcall -%}
    {%- set unvalidated = load_result('unvalidated_keys')['table'].rows -%}
    {%- if unvalidated -%}
        {#- the build's deferred checks first: PostgreSQL alters no table with
            checks pending (as in postgres__create_indexes) -#}
        {%- do run_query('set constraints all immediate') -%}
    {%- endif -%}
    {%- for row in unvalidated -%}
        {%- do log(this ~ ': its foreign key ' ~ row[0] ~ ' is validated', info=true) -%}
        {%- call statement('validate_' ~ loop.index) -%}
            alter table {{ this }} validate constraint {{ adapter.quote(row[0]) }}
        {%- endcall -%}
    {%- endfor -%}
{%- endmacro %}

{% macro key_column_names(constraint) -%}
    {#- A pg_constraint row's columns, in key order, lower case and joined by
        commas: as `columns | join(',') | lower` renders a declared key. -#}
    lower(array_to_string(array(
        select a.attname
        from unnest({{ constraint }}.conkey) with ordinality as u (attnum, pos)
        inner join pg_attribute as a
            on a.attrelid = {{ constraint }}.conrelid and a.attnum = u.attnum
        order by u.pos
    ), ','))
{%- endmacro %}

{% macro declared_foreign_keys(node) -%}
    {#- A model's declared foreign keys, model and column level, as
        {columns, to (the model's name), to_columns}. -#}
    {%- set keys = [] -%}
    {%- set declared = [] -%}
    {%- for c in node.get('constraints', []) -%}
        {%- do declared.append((c, c.get('columns') or [])) -%}
    {%- endfor -%}
    {%- for column in node.get('columns', {}).values() -%}
        {%- for c in column.get('constraints', []) -%}
            {%- do declared.append((c, [column.name])) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for c, columns in declared if c.type == 'foreign_key' and c.get('to') -%}
        {%- set named = modules.re.search("ref\\(\\s*['\"](\\w+)['\"]\\s*\\)", c.to) -%}
        {%- set to = named.group(1) if named
            else c.to.split('.')[-1] | replace('"', '') -%}
        {%- do keys.append({
            'columns': columns,
            'to': to,
            'to_columns': c.get('to_columns') or [],
        }) -%}
    {%- endfor -%}
    {{ return(keys) }}
{%- endmacro %}
