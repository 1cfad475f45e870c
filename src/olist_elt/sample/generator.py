"""Generate the 9 Olist CSV files, vectorized in DuckDB, byte-identical for a seed.

Every random draw is a hash of (row number, a salt, the seed), so the output does not
depend on threads or chunking. Files are written in chunks, so scale 10 fits in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb

from olist_elt.connectors.olist.files import OLIST_FILES
from olist_elt.sample.reference import (
    CATEGORY_TRANSLATIONS,
    REVIEW_MESSAGES,
    REVIEW_TITLES,
    STATES,
    UNTRANSLATED_CATEGORIES,
)

# Row counts of the real public export (scale 1.0).
REAL_ROWS = {
    "customers": 99_441,
    "orders": 99_441,
    "order_items": 112_650,
    "order_payments": 103_886,
    "order_reviews": 99_224,
    "products": 32_951,
    "sellers": 3_095,
    "geolocation": 1_000_163,
}
REAL_ZIP_PREFIXES = 19_015
CHUNK_ROWS = 500_000


# How each file is written: header quoted, line ending, BOM.
_LAYOUT = {
    "customers": (True, "\n", False),
    "geolocation": (True, "\n", False),
    "order_items": (True, "\n", False),
    "order_payments": (True, "\n", False),
    "order_reviews": (True, "\r\n", False),
    "orders": (True, "\n", False),
    "products": (True, "\n", False),
    "sellers": (False, "\r\n", False),
    "category_translation": (False, "\r\n", True),
}


def _sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _rows(scale: float, dataset: str) -> int:
    """Rows of a dataset at a scale (at least one)."""
    return max(1, round(REAL_ROWS[dataset] * scale))


def _setup(con: duckdb.DuckDBPyConnection, seed: int, scale: float) -> None:
    """Macros and reference tables shared by every file."""
    con.execute(f"set variable seed = {int(seed)}")
    con.execute(
        """
        create macro u(i, salt) as
            (hash(i, salt, getvariable('seed')) % 1000000007)::double / 1000000007.0;
        create macro hid(i, salt) as md5(getvariable('seed')::varchar || ':' || salt || ':' || i);
        create macro gauss(i, salt) as
            sqrt(-2 * ln(u(i, salt || 'a') + 1e-12)) * cos(2 * pi() * u(i, salt || 'b'));
        create macro q(x) as case when x is null then '' else
            '"' || replace(x, '"', '""') || '"' end;
        create macro mq(x, force) as case
            when x is null then ''
            when force or regexp_matches(x, '[",\\r\\n]') then q(x)
            else x end;
        create macro ts(x) as coalesce(strftime(x, '%Y-%m-%d %H:%M:%S'), '');
        create macro num(x) as coalesce(x::varchar, '');
        create macro city_variant(name, r) as case
            when r < 0.60 then lower(strip_accents(name))
            when r < 0.85 then lower(name)
            when r < 0.95 then name
            else upper(strip_accents(name)) end;
        """
    )
    n_zip = max(len(STATES) * 2, min(REAL_ZIP_PREFIXES, round(REAL_ZIP_PREFIXES * scale * 4)))
    total = sum(s[3] for s in STATES)
    counts = [max(2, round(n_zip * s[3] / total)) for s in STATES]
    state_rows, city_rows, first = [], [], 0
    for (code, name, region, _, lo, hi, cities), count in zip(STATES, counts, strict=True):
        count = min(count, hi - lo + 1)
        state_rows.append(
            f"({_sql_str(code)}, {_sql_str(name)}, {_sql_str(region)}, {lo}, {hi}, "
            f"{first}, {count}, {len(cities)})"
        )
        for k, (city, lat, lng) in enumerate(cities):
            city_rows.append(f"({_sql_str(code)}, {k}, {_sql_str(city)}, {lat}, {lng})")
        first += count
    con.execute(
        "create table states(code varchar, name varchar, region varchar, lo int, hi int, "
        "first int, n int, n_cities int); insert into states values " + ", ".join(state_rows)
    )
    con.execute(
        "create table cities(state varchar, k int, city varchar, lat double, lng double); "
        "insert into cities values " + ", ".join(city_rows)
    )
    # Zip prefixes spread over each state's range; each maps to one city of its state,
    # the capital more often than the others.
    con.execute(
        f"""
        create table zips as
        select
            r.range as zip_idx,
            s.code as state,
            s.lo + ((r.range - s.first) * (s.hi - s.lo + 1)) // s.n as zip,
            case when u(r.range, 'zcap') < 0.5 then 0
                else (hash(r.range, 'zcity', getvariable('seed')) % s.n_cities)::int end as k
        from range({first}) r
        join states s on r.range >= s.first and r.range < s.first + s.n
        order by 1
        """
    )
    con.execute(
        """
        create table zip_geo as
        select z.zip_idx, z.zip, z.state, c.city, c.lat, c.lng
        from zips z join cities c on c.state = z.state and c.k = z.k
        order by z.zip_idx
        """
    )
    n_cat = len(CATEGORY_TRANSLATIONS) + len(UNTRANSLATED_CATEGORIES)
    names = [pt for pt, _ in CATEGORY_TRANSLATIONS]
    names.insert(40, UNTRANSLATED_CATEGORIES[0])
    names.insert(60, UNTRANSLATED_CATEGORIES[1])
    assert len(names) == n_cat
    con.execute(
        "create table categories(idx int, name varchar); insert into categories values "
        + ", ".join(f"({i}, {_sql_str(n)})" for i, n in enumerate(names))
    )
    con.execute(
        "create table review_titles(idx int, title varchar); insert into review_titles values "
        + ", ".join(f"({i}, {_sql_str(t)})" for i, t in enumerate(REVIEW_TITLES))
    )
    con.execute(
        "create table review_messages(idx int, msg varchar); insert into review_messages values "
        + ", ".join(f"({i}, {_sql_str(m)})" for i, m in enumerate(REVIEW_MESSAGES))
    )


# Contacts in review texts, written the many ways people write them (keyed on the
# review's source row, so the same seed gives the same bytes): redaction must hold
# on all of them.
_DDD = "(11 + c.src % 88)::varchar"
_A4 = "lpad((c.src * 7919 % 10000)::varchar, 4, '0')"
_B4 = "lpad((c.src * 104729 % 10000)::varchar, 4, '0')"
_EMAIL_SQL = """case c.src % 4
                    when 0 then 'cliente' || c.src || '@exemplo.com.br'
                    when 1 then 'joão.cliente' || c.src || '+loja@Exemplo.COM.br'
                    when 2 then 'CONCEIÇÃO' || c.src || '@GMAIL.COM'
                    else 'maria_' || c.src || '@correio.net' end"""
_PHONE_SQL = f"""case c.src % 5
                    when 0 then '(' || {_DDD} || ') 9' || {_A4} || '-' || {_B4}
                    when 1 then '+55 ' || {_DDD} || ' 9' || {_A4} || ' ' || {_B4}
                    when 2 then '+55' || {_DDD} || '9' || {_A4} || {_B4}
                    when 3 then {_DDD} || '.3' || right({_A4}, 3) || '.' || {_B4}
                    else '(' || {_DDD} || ') 9 ' || {_A4} || '-' || {_B4} end"""
_C1 = "lpad((c.src * 7907 % 1000)::varchar, 3, '0')"
_C2 = "lpad((c.src * 31 % 1000)::varchar, 3, '0')"
_C3 = "lpad((c.src * 17 % 1000)::varchar, 3, '0')"
_C4 = "lpad((c.src % 100)::varchar, 2, '0')"
_CPF_SQL = f"""case c.src % 4
                    when 0 then {_C1} || '.' || {_C2} || '.' || {_C3} || '-' || {_C4}
                    when 1 then {_C1} || {_C2} || {_C3} || {_C4}
                    when 2 then {_C1} || ' ' || {_C2} || ' ' || {_C3} || ' ' || {_C4}
                    else {_C1} || '.' || {_C2} || '.' || {_C3} || ' ' || {_C4} end"""
_CNPJ_SQL = f"""case c.src % 2
                    when 0 then right({_C1}, 2) || '.' || {_C2} || '.' || {_C3}
                        || '/0001-' || {_C4}
                    else right({_C1}, 2) || {_C2} || {_C3} || '0001' || {_C4} end"""


def _build_tables(con: duckdb.DuckDBPyConnection, scale: float) -> None:
    """Customers, orders, products, sellers, items, payments and reviews as tables."""
    n_cust = _rows(scale, "customers")
    n_prod = _rows(scale, "products")
    n_sel = _rows(scale, "sellers")
    n_items = _rows(scale, "order_items")
    n_pay = max(_rows(scale, "order_payments"), n_cust)
    n_rev = min(_rows(scale, "order_reviews"), n_cust)
    n_zip = con.execute("select count(*) from zip_geo").fetchone()[0]  # type: ignore[index]
    con.execute(
        f"""
        create table customers as
        select
            i,
            hid(i, 'customer') as customer_id,
            case when u(i, 'repeat') < 0.034 and i > 0
                then hid(hash(i, 'rep', getvariable('seed')) % i, 'person')
                else hid(i, 'person') end as customer_unique_id,
            z.zip, z.state,
            city_variant(z.city, u(i, 'ccity')) as city
        from range({n_cust}) t(i)
        join zip_geo z on z.zip_idx = hash(i, 'czip', getvariable('seed')) % {n_zip}
        """
    )
    con.execute(
        f"""
        create table sellers as
        select
            i,
            hid(i, 'seller') as seller_id,
            z.zip, z.state,
            city_variant(z.city, u(i, 'scity')) as city
        from range({n_sel}) t(i)
        join zip_geo z on z.zip_idx =
            (floor(pow(u(i, 'szip'), 2.0) * {n_zip}))::bigint
        """
    )
    con.execute(
        f"""
        create table products as
        select
            i,
            hid(i, 'product') as product_id,
            case when i = 9 or u(i, 'nocat') < 0.0185 then null else c.name end as category,
            (5 + (u(i, 'nlen') * 71)::int) as name_len,
            (4 + (pow(u(i, 'dlen'), 2) * 3988)::int) as desc_len,
            (1 + (pow(u(i, 'photos'), 4) * 19)::int) as photos,
            (50 + pow(u(i, 'weight'), 3) * 40375)::int as weight_g,
            (7 + u(i, 'len') * 98)::int as length_cm,
            (2 + u(i, 'hgt') * 103)::int as height_cm,
            (6 + u(i, 'wid') * 112)::int as width_cm,
            (hash(i, 'pseller', getvariable('seed')) % {n_sel})::bigint as seller_idx,
            round(least(6735, greatest(0.85, exp(4.0 + 0.9 * gauss(i, 'price')))), 2) as price
        from range({n_prod}) t(i)
        join categories c on c.idx = (floor(pow(u(i, 'cat'), 1.8) * 73))::int
        """
    )
    con.execute(
        f"""
        create table orders as
        with base as (
            select
                i,
                u(i, 'status') as su,
                timestamp '2016-09-04 21:15:19'
                    + to_seconds((sqrt(u(i, 'when')) * 66960000)::bigint) as purchased
            from range({n_cust}) t(i)
        ),
        status as (
            select *, case
                when su < 0.9702 then 'delivered'
                when su < 0.9813 then 'shipped'
                when su < 0.9876 then 'canceled'
                when su < 0.9937 then 'unavailable'
                when su < 0.9969 then 'invoiced'
                when su < 0.9999 then 'processing'
                when su < 0.99995 then 'created'
                else 'approved' end as status
            from base
        ),
        approved as (
            select *, case
                when status = 'created' then null
                when status = 'canceled' and u(i, 'capp') < 0.3 then null
                else purchased + to_seconds((600 + pow(u(i, 'app'), 3) * 172800)::bigint)
                end as approved_at
            from status
        ),
        carrier as (
            select *, case
                when status in ('delivered', 'shipped') and u(i, 'nocarrier') > 0.0002
                then coalesce(approved_at, purchased)
                    + to_seconds((86400 + u(i, 'carrier') * 4 * 86400)::bigint)
                end as carrier_at
            from approved
        )
        select
            i,
            hid(i, 'order') as order_id,
            hid(i, 'customer') as customer_id,
            status,
            purchased,
            approved_at,
            carrier_at,
            case when status = 'delivered' and carrier_at is not null
                and u(i, 'nodeliv') > 0.0001
                then carrier_at + to_seconds(
                    (3600 * (12 - ln(u(i, 'deliv') + 1e-9) * 190))::bigint)
                end as delivered_at,
            date_trunc('day', purchased)
                + to_days((14 + u(i, 'est') * 32)::int) as estimated_at
        from carrier
        """
    )
    con.execute(
        f"""
        create table order_items as
        with eligible as (
            select row_number() over (order by i) - 1 as e, i, order_id, purchased
            from orders where status not in ('unavailable', 'created')
        ),
        n as (select count(*) as n_e from eligible),
        picks as (
            select j, case when j < n_e then j
                else hash(j, 'item_order', getvariable('seed')) % n_e end as e
            from range({n_items}) t(j), n
        )
        select
            p.j,
            e.order_id,
            e.i as order_idx,
            row_number() over (partition by e.order_id order by p.j) as order_item_id,
            pr.product_id,
            s.seller_id,
            e.purchased + to_seconds((518400 + u(p.j, 'ship') * 259200)::bigint) as ship_limit,
            pr.price,
            case when u(p.j, 'freefreight') < 0.003 then 0.0
                else round(7.5 + pr.weight_g / 1000.0 * 1.6 + u(p.j, 'freight') * 14, 2)
                end as freight
        from picks p
        join eligible e using (e)
        join products pr on pr.i = (floor(pow(u(p.j, 'prod'), 2.0) * {n_prod}))::bigint
        join sellers s on s.i = pr.seller_idx
        """
    )
    con.execute(
        f"""
        create table order_payments as
        with picks as (
            select p, case when p < {n_cust} then p
                else hash(p, 'pay_order', getvariable('seed')) % {n_cust} end as order_idx
            from range({n_pay}) t(p)
        ),
        seq as (
            select *,
                row_number() over (partition by order_idx order by p) as payment_sequential,
                count(*) over (partition by order_idx) as n_payments
            from picks
        ),
        totals as (
            select o.i as order_idx, o.order_id, o.status,
                coalesce(sum(it.price + it.freight),
                    round(20 + u(o.i, 'nototal') * 280, 2)) as total
            from orders o left join order_items it on it.order_idx = o.i
            group by o.i, o.order_id, o.status
        ),
        valued as (
            select s.*, t.order_id, t.status, t.total,
                round(t.total * 0.5 / s.n_payments, 2) as voucher
            from seq s join totals t using (order_idx)
        )
        select
            p,
            order_id,
            payment_sequential,
            case
                when payment_sequential > 1 then 'voucher'
                when p = 7 or hash(p, 'nd', getvariable('seed')) % 33000 = 7 then 'not_defined'
                when u(p, 'ptype') < 0.775 then 'credit_card'
                when u(p, 'ptype') < 0.975 then 'boleto'
                when u(p, 'ptype') < 0.991 then 'debit_card'
                else 'voucher' end as payment_type,
            case
                when payment_sequential > 1 then 1
                when p = 3 or hash(p, 'zeroinst', getvariable('seed')) % 50000 = 3 then 0
                when u(p, 'ptype') < 0.775 then 1 + (pow(u(p, 'inst'), 2) * 10)::int
                else 1 end as payment_installments,
            case when payment_sequential > 1 then voucher
                else round(total - voucher * (n_payments - 1), 2) end as payment_value
        from valued
        """
    )
    n_extra = round(n_rev * 0.0055)
    n_base = n_rev - n_extra
    con.execute(
        f"""
        create table order_reviews as
        with rows as (
            select r,
                case when r < {n_base} then r
                    else hash(r, 'rev_order', getvariable('seed')) % {n_base} end as order_idx,
                case when r > 0 and r < {n_base} and u(r, 'rdup') < 0.008 then r - 1
                    else r end as src
            from range({n_rev}) t(r)
        ),
        content as (
            select
                r, order_idx, src,
                u(src, 'score') as su,
                case when u(src, 'title') < 0.12
                    then (hash(src, 'tpick', getvariable('seed')) % {len(REVIEW_TITLES)})::int
                    end as title_idx,
                case when u(src, 'msg') < 0.42
                    then (hash(src, 'mpick', getvariable('seed')) % {len(REVIEW_MESSAGES)})::int
                    end as msg_idx
            from rows
        )
        select
            c.r,
            hid(c.src, 'review') as review_id,
            o.order_id,
            case when c.su < 0.578 then 5 when c.su < 0.771 then 4 when c.su < 0.886 then 1
                when c.su < 0.968 then 3 else 2 end as review_score,
            t.title,
            replace(replace(replace(replace(m.msg,
                '{{email}}', {_EMAIL_SQL}),
                '{{phone}}', {_PHONE_SQL}),
                '{{cpf}}', {_CPF_SQL}),
                '{{cnpj}}', {_CNPJ_SQL}) as message,
            date_trunc('day', coalesce(od.delivered_at, od.estimated_at))
                + interval 1 day
                + case when c.r >= {n_base} then to_days((10 + u(c.r, 'late') * 30)::int)
                    else interval 0 day end as created_at
        from content c
        join orders o on o.i = c.order_idx
        join orders od on od.i = case when c.r >= {n_base} then c.order_idx else c.src end
        left join review_titles t on t.idx = c.title_idx
        left join review_messages m on m.idx = c.msg_idx
        """
    )


def _line_sql(dataset: str) -> str:
    """SQL yielding (i, line) for a dataset (geolocation: a template over {lo}, {hi}, {n_zip})."""
    if dataset == "customers":
        return """select i, q(customer_id) || ',' || q(customer_unique_id) || ',' ||
                q(lpad(zip::varchar, 5, '0')) || ',' || q(city) || ',' || q(state) as line
            from customers"""
    if dataset == "sellers":
        return """select i, seller_id || ',' || zip::varchar || ',' || mq(city, false) || ','
                || state as line from sellers"""
    if dataset == "orders":
        return """select i, q(order_id) || ',' || q(customer_id) || ',' || q(status) || ',' ||
                q(ts(purchased)) || ',' || mq(nullif(ts(approved_at), ''), true) || ',' ||
                mq(nullif(ts(carrier_at), ''), true) || ',' ||
                mq(nullif(ts(delivered_at), ''), true) || ',' || q(ts(estimated_at)) as line
            from orders"""
    if dataset == "order_items":
        return """select j as i, q(order_id) || ',' || order_item_id || ',' || q(product_id) || ','
                || q(seller_id) || ',' || q(ts(ship_limit)) || ',' || printf('%.2f', price)
                || ',' || printf('%.2f', freight) as line
            from order_items"""
    if dataset == "order_payments":
        return """select p as i, q(order_id) || ',' || payment_sequential || ',' || q(payment_type)
                || ',' || payment_installments || ',' || printf('%.2f', payment_value) as line
            from order_payments"""
    if dataset == "order_reviews":
        return """select r as i, mq(review_id, u(r, 'qid') < 0.3) || ',' ||
                mq(order_id, u(r, 'qid') < 0.3) || ',' || review_score || ',' ||
                mq(title, false) || ',' || mq(message, false) || ',' ||
                ts(created_at) || ',' ||
                ts(created_at + to_seconds((3600 + u(r, 'ans') * 300000)::bigint)) as line
            from order_reviews"""
    if dataset == "products":
        return """select i, q(product_id) || ',' || mq(category, true) || ',' ||
                case when category is null then ',,' else
                    q(printf('%.1f', name_len::double)) || ','
                    || q(printf('%.1f', desc_len::double)) || ','
                    || q(printf('%.1f', photos::double)) end || ',' ||
                case when i = 5 or hash(i, 'nodim', getvariable('seed')) % 16000 = 5
                then ',,,' else
                    q(printf('%.1f', weight_g::double)) || ','
                    || q(printf('%.1f', length_cm::double)) || ','
                    || q(printf('%.1f', height_cm::double)) || ','
                    || q(printf('%.1f', width_cm::double))
                end as line
            from products"""
    if dataset == "geolocation":
        return """with base as (
                select g, case when g > 0 and u(g, 'gdup') < 0.25 then g - 1 else g end as b
                from range({lo}, {hi}) t(g)
            )
            select g as i,
                z.zip::varchar || ',' ||
                case when b = 13 or u(b, 'abroad') < 0.0001
                    then printf('%.14f', 38.7 + u(b, 'plat')) || ','
                        || printf('%.14f', -9.1 - u(b, 'plng'))
                    else printf('%.14f', z.lat + (u(b, 'lat') - 0.5) * 0.1) || ','
                        || printf('%.14f', z.lng + (u(b, 'lng') - 0.5) * 0.1) end
                || ',' || city_variant(z.city, u(b, 'gcity')) || ',' || z.state as line
            from base join zip_geo z on z.zip_idx = b % {n_zip}"""
    raise KeyError(dataset)


def _write_lines(con: duckdb.DuckDBPyConnection, dataset: str, path: Path, scale: float) -> int:
    """Write one file: header, then the data lines in chunks; return the data rows."""
    spec = OLIST_FILES[dataset]
    quote_header, eol, bom = _LAYOUT[dataset]
    header = ",".join(f'"{c}"' if quote_header else c for c in spec.columns)
    rows = 0
    with open(path, "wb") as fh:
        if bom:
            fh.write("\ufeff".encode())
        fh.write((header + eol).encode("utf-8"))
        if dataset == "category_translation":
            for pt, en in CATEGORY_TRANSLATIONS:
                fh.write(f"{pt},{en}{eol}".encode())
            return len(CATEGORY_TRANSLATIONS)
        if dataset == "geolocation":
            n_geo = _rows(scale, "geolocation")
            n_zip = con.execute("select count(*) from zip_geo").fetchone()[0]  # type: ignore[index]
            for lo in range(0, n_geo, CHUNK_ROWS):
                sql = _line_sql(dataset).format(lo=lo, hi=min(n_geo, lo + CHUNK_ROWS), n_zip=n_zip)
                rows += _write_chunk(con, fh, sql, eol)
            return rows
        sql = _line_sql(dataset)
        (total,) = con.execute(f"select count(*) from ({sql})").fetchone()  # type: ignore[misc]
        for lo in range(0, total, CHUNK_ROWS):
            chunk = f"select * from ({sql}) where i >= {lo} and i < {lo + CHUNK_ROWS}"
            rows += _write_chunk(con, fh, chunk, eol)
    return rows


def _write_chunk(con: duckdb.DuckDBPyConnection, fh: object, sql: str, eol: str) -> int:
    """Append one chunk of lines, in row order; return how many."""
    n, text = con.execute(
        f"select count(*), string_agg(line, {_sql_str(eol)} order by i) from ({sql})"
    ).fetchone()  # type: ignore[misc]
    if n:
        fh.write((text + eol).encode("utf-8"))  # type: ignore[attr-defined]
    return int(n)


def generate_sample(
    out_dir: Path,
    scale: float = 1.0,
    seed: int = 42,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Write the 9 Olist CSVs into out_dir; return data rows per dataset."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    out_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        _setup(con, seed, scale)
        _build_tables(con, scale)
        counts: dict[str, int] = {}
        for dataset, spec in OLIST_FILES.items():
            # a temp file of its own: two generators writing one folder never share one
            tmp = out_dir / f".{spec.file_name}.{uuid.uuid4().hex}.tmp"
            try:
                counts[dataset] = _write_lines(con, dataset, tmp, scale)
                tmp.replace(out_dir / spec.file_name)
            finally:
                tmp.unlink(missing_ok=True)
            if progress:
                progress(dataset, counts[dataset])
        return counts
    finally:
        con.close()
