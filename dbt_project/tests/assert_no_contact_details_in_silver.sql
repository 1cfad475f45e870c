{#- Fails, naming the column and counting the rows, when an e-mail address, a
    CPF, a CNPJ or a phone number survives in a text column of silver. The
    optional models are checked when they are enabled (same vars as theirs). -#}
{%- set models = [
    'silver_customers', 'silver_geolocation', 'silver_order_items',
    'silver_orders', 'silver_payments', 'silver_products', 'silver_reviews',
    'silver_sellers',
] -%}
{%- if var('apis_enabled', true) -%}
    {%- do models.extend([
        'silver_economic_indicators', 'silver_weather_observations',
    ]) -%}
{%- endif -%}
{%- if var('stream_enabled', false) -%}
    {%- do models.append('silver_order_events') -%}
{%- endif -%}
{%- for name in models %}
-- depends_on: {{ ref(name) }}
{%- endfor %}

{{ contact_leaks(models) }}
