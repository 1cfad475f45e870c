{% macro pseudonymize(column) -%}
    {#- Keyed pseudonym: hex HMAC-SHA256(key, value). The key's pads come from the
        session (set by the engine's plugin/setting), never from a rendered literal. -#}
    {{ return(adapter.dispatch('pseudonymize')(column)) }}
{%- endmacro %}

{% macro duckdb__pseudonymize(column) -%}
    case
        when getvariable('olist_pii_ipad') is null
            then error('PII key not set on this connection: run dbt with the olist_keys plugin')
        when {{ column }} is null then null
        else sha256(
            getvariable('olist_pii_opad')
            || unhex(sha256(getvariable('olist_pii_ipad') || encode({{ column }})))
        )
    end
{%- endmacro %}

{% macro postgres__pseudonymize(column) -%}
    encode(sha256(
        decode(current_setting('olist.pii_opad'), 'hex')
        || sha256(
            decode(current_setting('olist.pii_ipad'), 'hex')
            || convert_to({{ column }}, 'UTF8')
        )
    ), 'hex')
{%- endmacro %}

{% macro spark__pseudonymize(column) -%}
    sha2(concat(
        unhex('${spark.olist.pii_opad}'),
        unhex(sha2(concat(unhex('${spark.olist.pii_ipad}'), encode({{ column }}, 'UTF-8')), 256))
    ), 256)
{%- endmacro %}
