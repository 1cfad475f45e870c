{% macro lake_root() -%}
    {#- The lake's root folder or URI, without a trailing slash. -#}
    {{- return(env_var('OLIST_LAKE_DIR', '../lake').rstrip('/')) -}}
{%- endmacro %}
