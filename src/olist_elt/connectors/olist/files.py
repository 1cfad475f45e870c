"""The files of the Olist export the connector accepts: data set, file name, header.
The sample generator writes exactly these."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OlistFile:
    """One file of the export: its dataset name, file name and header."""

    dataset: str
    file_name: str
    columns: tuple[str, ...]


OLIST_FILES: dict[str, OlistFile] = {
    f.dataset: f
    for f in [
        OlistFile(
            "customers",
            "olist_customers_dataset.csv",
            (
                "customer_id",
                "customer_unique_id",
                "customer_zip_code_prefix",
                "customer_city",
                "customer_state",
            ),
        ),
        OlistFile(
            "geolocation",
            "olist_geolocation_dataset.csv",
            (
                "geolocation_zip_code_prefix",
                "geolocation_lat",
                "geolocation_lng",
                "geolocation_city",
                "geolocation_state",
            ),
        ),
        OlistFile(
            "order_items",
            "olist_order_items_dataset.csv",
            (
                "order_id",
                "order_item_id",
                "product_id",
                "seller_id",
                "shipping_limit_date",
                "price",
                "freight_value",
            ),
        ),
        OlistFile(
            "order_payments",
            "olist_order_payments_dataset.csv",
            (
                "order_id",
                "payment_sequential",
                "payment_type",
                "payment_installments",
                "payment_value",
            ),
        ),
        OlistFile(
            "order_reviews",
            "olist_order_reviews_dataset.csv",
            (
                "review_id",
                "order_id",
                "review_score",
                "review_comment_title",
                "review_comment_message",
                "review_creation_date",
                "review_answer_timestamp",
            ),
        ),
        OlistFile(
            "orders",
            "olist_orders_dataset.csv",
            (
                "order_id",
                "customer_id",
                "order_status",
                "order_purchase_timestamp",
                "order_approved_at",
                "order_delivered_carrier_date",
                "order_delivered_customer_date",
                "order_estimated_delivery_date",
            ),
        ),
        OlistFile(
            "products",
            "olist_products_dataset.csv",
            (
                "product_id",
                "product_category_name",
                "product_name_lenght",
                "product_description_lenght",
                "product_photos_qty",
                "product_weight_g",
                "product_length_cm",
                "product_height_cm",
                "product_width_cm",
            ),
        ),
        OlistFile(
            "sellers",
            "olist_sellers_dataset.csv",
            ("seller_id", "seller_zip_code_prefix", "seller_city", "seller_state"),
        ),
        OlistFile(
            "category_translation",
            "product_category_name_translation.csv",
            ("product_category_name", "product_category_name_english"),
        ),
    ]
}
