{#- dbt checks an enforced contract against the model's select, never against
    the table an incremental model keeps: a decimal whose contract changed
    (gold's amounts went from a sum's numeric(38, 2) to numeric(18, 2)) stayed
    as it was stored in every kept table, an analyst's own file included, and
    each run appended rows of the new type to a column of the old one. So an
    incremental model with an enforced contract is built in full when a stored
    decimal's precision or scale is not the contract's, or it is stored
    unbounded: the same rows, the contract's types. This is dbt's
    should_full_refresh (the model's full_refresh config, else
    --full-refresh) with that one rule added; is_incremental() asks it too, so
    the model's SQL selects every row when the table is built in full. -#}

{% macro should_full_refresh() -%}
    {%- set config_full_refresh = config.get('full_refresh') -%}
    {%- if config_full_refresh is none -%}
        {%- set config_full_refresh = flags.FULL_REFRESH -%}
    {%- endif -%}
    {%- if not config_full_refresh and execute
        and config.get('materialized') == 'incremental' -%}
        {%- set drift = stored_decimal_drift(this) -%}
        {%- if drift -%}
            {%- do log(
                this ~ ' is built in full: ' ~ drift | join('; '), info=true
            ) -%}
            {%- do return(true) -%}
        {%- endif -%}
    {%- endif -%}
    {%- do return(config_full_refresh) -%}
{%- endmacro %}

{% macro stored_decimal_drift(relation) -%}
    {#- Each decimal column of the kept table whose precision or scale differs
        from what the enforced contract declares (none without a contract or a
        kept table). -#}
    {%- set found = [] -%}
    {%- set contract = config.get('contract') -%}
    {%- set stored = load_relation(relation)
        if contract and contract.enforced else none -%}
    {%- if stored is not none -%}
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
        {%- for column in adapter.get_columns_in_relation(stored)
            if declared and column.name | lower in declared -%}
            {%- set want = declared[column.name | lower] -%}
            {%- set size = modules.re.search(
                '\\(\\s*(\\d+)\\s*,\\s*(\\d+)\\s*\\)', column.data_type
            ) -%}
            {%- if size is none
                or [size.group(1) | int, size.group(2) | int] != want -%}
                {%- do found.append(
                    column.name ~ ' is stored as ' ~ column.data_type
                    ~ ', the contract says numeric(' ~ want | join(', ') ~ ')'
                ) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(found) }}
{%- endmacro %}
