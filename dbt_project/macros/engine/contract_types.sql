{#- dbt checks an enforced contract against the model's select, never against
    the table an incremental model keeps: a decimal whose contract changed
    (gold's amounts went from a sum's numeric(38, 2) to numeric(18, 2)) stayed
    as it was stored in every kept table, an analyst's own file included, and
    each build appended rows of the new type to a column of the old one. So
    before an incremental build (a pre-hook, inside the build's transaction:
    a failed build rolls it back), each kept decimal column whose precision or
    scale is not the contract's, or that is stored unbounded, is altered to
    the contract's type in place: the same values, keys, foreign keys and
    grants, and dbt's log names the columns. A kept value the contract's type
    cannot hold fails the build with the engine's cast error, as the model's
    own select would. -#}

{% macro align_stored_decimals() -%}
    {%- if execute and model.resource_type == 'model' and is_incremental() -%}
        {%- for column, want in stored_decimal_drift(this) -%}
            {%- do log(
                this ~ ': ' ~ column.name ~ ' stored as ' ~ column.data_type
                ~ ' is altered to its contract\'s ' ~ want,
                info=true
            ) -%}
            {%- call statement('align_' ~ column.name) -%}
                alter table {{ this }}
                alter column {{ adapter.quote(column.name) }} type {{ want }}
            {%- endcall -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{% macro stored_decimal_drift(relation) -%}
    {#- (column, contract type) for each decimal column of the kept table whose
        precision or scale differs from what the enforced contract declares. -#}
    {%- set found = [] -%}
    {%- set contract = config.get('contract') -%}
    {%- if contract and contract.enforced -%}
        {%- set pattern = '^\\s*(numeric|decimal)\\s*\\(\\s*(\\d+)\\s*,\\s*(\\d+)\\s*\\)\\s*$' -%}
        {%- set declared = {} -%}
        {%- for column in model['columns'].values() -%}
            {%- set match = modules.re.match(
                pattern, column.get('data_type') or '', modules.re.IGNORECASE
            ) -%}
            {%- if match -%}
                {%- do declared.update({
                    column['name'] | lower: [match.group(2) | int, match.group(3) | int]
                }) -%}
            {%- endif -%}
        {%- endfor -%}
        {#- no decimal in the contract: the kept table is not described -#}
        {%- set stored = adapter.get_columns_in_relation(relation)
            if declared else [] -%}
        {%- for column in stored if column.name | lower in declared -%}
            {%- set want = declared[column.name | lower] -%}
            {%- set size = modules.re.search(
                '\\(\\s*(\\d+)\\s*,\\s*(\\d+)\\s*\\)', column.data_type
            ) -%}
            {%- if size is none
                or [size.group(1) | int, size.group(2) | int] != want -%}
                {%- do found.append(
                    (column, 'numeric(' ~ want | join(', ') ~ ')')
                ) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(found) }}
{%- endmacro %}
