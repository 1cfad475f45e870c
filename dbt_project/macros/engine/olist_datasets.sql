{% macro olist_datasets() -%}
    {#- The Olist export's data sets: one raw manifest (source 'olist') and one
        bronze model (bronze_olist__<data set>) each. -#}
    {{ return([
        'customers', 'geolocation', 'order_items', 'order_payments',
        'order_reviews', 'orders', 'products', 'sellers', 'category_translation',
    ]) }}
{%- endmacro %}
