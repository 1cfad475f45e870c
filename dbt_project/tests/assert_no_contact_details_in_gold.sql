{#- Fails, naming the column and counting the rows, when an e-mail address, a
    CPF, a CNPJ or a phone number survives in a text column of gold. The
    optional models are checked when they are enabled (same vars as theirs). -#}
{%- set models = [
    'dim_customer', 'dim_date', 'dim_geography', 'dim_product', 'dim_seller',
    'fct_order_items', 'fct_orders', 'fct_payments', 'fct_reviews',
] -%}
{%- if var('apis_enabled', true) -%}
    {%- do models.extend([
        'fct_economic_indicators', 'fct_monthly_revenue', 'fct_weather_daily',
    ]) -%}
{%- endif -%}
{%- for name in models %}
-- depends_on: {{ ref(name) }}
{%- endfor %}

{{ contact_leaks(models) }}
