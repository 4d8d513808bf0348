"""Order lookup ("where is my order?"): extraction, verification, a reply, never another's order.

The order number and the email or ZIP/postcode are gathered from the whole conversation. An
order's details are given only after the email or ZIP matches the order on file; a mismatch
reveals nothing (not even whether the order exists). A source that is down gets a polite fallback.
"""

from __future__ import annotations

import csv
import re
import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from triage.errors import InvalidInputError, OrderSourceError

ORDER_NUMBER = re.compile(r"(?i)(?:\b(?:jp)[\s#-]*|#\s*|\border\s*(?:no\.?|number|num|#)?\s*:?\s*)(\d{5})\b")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
US_ZIP = re.compile(r"\b\d{5}(?:-\d{4})?\b")
POSTCODE_HINT = re.compile(r"(?i)\b(?:zip|postcode|postal code|post code|zip code)\b[^A-Za-z0-9]*([A-Za-z0-9][A-Za-z0-9 -]{1,9}[A-Za-z0-9])")

STATUSES = ("processing", "shipped", "in_transit", "delayed", "delivered", "cancelled", "returned")
CSV_COLUMNS = ("order_number", "email", "zip", "customer_name", "status", "carrier", "tracking_number",
               "tracking_url", "placed_at", "shipped_at", "eta", "delivered_at", "total", "currency", "items", "vip")


@dataclass(frozen=True)
class Order:
    order_number: str
    email: str
    zip: str
    customer_name: str
    status: str
    carrier: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    placed_at: str = ""
    shipped_at: str = ""
    eta: str = ""
    delivered_at: str = ""
    total: float = 0.0
    currency: str = "USD"
    items: str = ""
    vip: bool = False


class OrderSource(Protocol):
    def get(self, order_number: str) -> Order | None: ...


def normalize_order_number(raw: str) -> str:
    digits = re.sub(r"\D", "", raw)
    return f"JP-{digits}" if digits else raw.strip().upper()


def normalize_zip(raw: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", raw).upper()


class SqliteOrderSource:
    """Orders in a SQLite table in the data dir, filled by ``triage orders import FILE.csv``."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.path), timeout=5)
            db.execute(f"CREATE TABLE IF NOT EXISTS orders ({', '.join(c + ' TEXT' for c in CSV_COLUMNS)}, "
                       "PRIMARY KEY (order_number))")
            return db
        except sqlite3.Error as exc:
            raise OrderSourceError(f"order database {self.path} unavailable ({exc})") from exc

    def get(self, order_number: str) -> Order | None:
        db = self._connect()
        try:
            row = db.execute(f"SELECT {', '.join(CSV_COLUMNS)} FROM orders WHERE order_number = ?",
                             (normalize_order_number(order_number),)).fetchone()
        except sqlite3.Error as exc:
            raise OrderSourceError(f"order lookup failed ({exc})") from exc
        finally:
            db.close()
        return _order_from_row(dict(zip(CSV_COLUMNS, row))) if row else None

    def count(self) -> int:
        db = self._connect()
        try:
            return db.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
        finally:
            db.close()

    def import_csv(self, csv_path: Path) -> int:
        """Upsert every row; a bad row aborts the whole import with its line number (all or nothing)."""
        rows = [tuple(_to_cell(getattr(order, c)) for c in CSV_COLUMNS) for order in read_orders_csv(csv_path)]
        db = self._connect()
        try:
            with db:
                db.executemany(f"INSERT OR REPLACE INTO orders VALUES ({', '.join('?' for _ in CSV_COLUMNS)})", rows)
        finally:
            db.close()
        return len(rows)


def read_orders_csv(csv_path: Path) -> list[Order]:
    """Every order in a CSV file, or InvalidInputError naming the first bad line."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise InvalidInputError(f"orders file {csv_path} does not exist")
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError(f"{csv_path} is not UTF-8 text") from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in ("order_number", "email", "zip", "status") if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInputError(f"{csv_path}: missing column(s) {', '.join(missing)}")
    orders = []
    for line, raw in enumerate(reader, 2):
        try:
            orders.append(_order_from_row(raw))
        except ValueError as exc:
            raise InvalidInputError(f"{csv_path} line {line}: {exc}") from None
    return orders


def _to_cell(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _order_from_row(raw: dict) -> Order:
    r = {k: (raw.get(k) or "").strip() for k in CSV_COLUMNS}
    if not r["order_number"]:
        raise ValueError("order_number is empty")
    if r["status"] not in STATUSES:
        raise ValueError(f"status '{r['status']}' is not one of {', '.join(STATUSES)}")
    if not EMAIL.fullmatch(r["email"]):
        raise ValueError(f"email '{r['email']}' is not an email address")
    try:
        total = float(r["total"] or 0)
    except ValueError:
        raise ValueError(f"total '{r['total']}' is not a number") from None
    return Order(
        order_number=normalize_order_number(r["order_number"]), email=r["email"].lower(), zip=r["zip"],
        customer_name=r["customer_name"], status=r["status"], carrier=r["carrier"],
        tracking_number=r["tracking_number"], tracking_url=r["tracking_url"], placed_at=r["placed_at"],
        shipped_at=r["shipped_at"], eta=r["eta"], delivered_at=r["delivered_at"], total=total,
        currency=r["currency"] or "USD", items=r["items"], vip=r["vip"].lower() in ("true", "1", "yes"),
    )


# --- extraction from conversation text --------------------------------------------------------


@dataclass
class CollectedDetails:
    order_numbers: list[str]
    email: str | None
    zip: str | None


def extract_details(texts: list[str]) -> CollectedDetails:
    orders: list[str] = []
    email = zip_ = None
    for text in texts:
        for m in ORDER_NUMBER.finditer(text):
            n = normalize_order_number(m.group(1))
            if n not in orders:
                orders.append(n)
        for m in EMAIL.finditer(text):
            email = m.group(0).lower()
        hinted = POSTCODE_HINT.search(text)
        if hinted:
            zip_ = hinted.group(1).strip()
        else:
            without_orders = ORDER_NUMBER.sub(" ", text)
            zips = US_ZIP.findall(without_orders)
            if zips:
                zip_ = zips[-1]
    return CollectedDetails(orders, email, zip_)


def verified(order: Order, details: CollectedDetails) -> bool:
    if details.email and details.email.lower() == order.email.lower():
        return True
    return bool(details.zip and normalize_zip(details.zip) == normalize_zip(order.zip))


# --- replies ------------------------------------------------------------------------------------

ASK_FOR_ORDER = ("I can check that for you. What's your order number (it looks like JP-12345) and the email "
                 "address or ZIP/postal code on the order?")
ASK_FOR_VERIFICATION = ("Thanks! To protect your privacy, please confirm the email address or ZIP/postal code used on "
                        "order {order}.")
NOT_MATCHED = ("I couldn't match those details to order {order}. Please double-check the order number and the email "
               "or ZIP/postal code on the order confirmation.")
SOURCE_DOWN = ("I can't reach our order system right now, sorry about that. You can check your order status from the "
               "link in your shipping confirmation email, or I can connect you with a person.")

_STATUS_LINES = {
    "processing": "Order {order} is being prepared and hasn't shipped yet.",
    "shipped": "Order {order} has shipped{carrier}.",
    "in_transit": "Order {order} is on its way{carrier}.",
    "delayed": "Order {order} is delayed in transit{carrier}; the carrier is still moving it.",
    "delivered": "Order {order} was delivered{delivered}.",
    "cancelled": "Order {order} was cancelled.",
    "returned": "Order {order} was returned to us and refunded.",
}


def _friendly_date(iso: str) -> str:
    try:
        d = date.fromisoformat(iso[:10])
    except ValueError:
        return iso
    return f"{d.strftime('%A')}, {d.strftime('%B')} {d.day}"


def order_reply(order: Order) -> str:
    carrier = f" with {order.carrier}" if order.carrier else ""
    delivered = f" on {_friendly_date(order.delivered_at)}" if order.delivered_at else ""
    parts = [_STATUS_LINES[order.status].format(order=order.order_number, carrier=carrier, delivered=delivered)]
    if order.status in ("shipped", "in_transit", "delayed") and order.tracking_url:
        parts.append(f"Tracking: {order.tracking_url}")
    if order.status in ("processing", "shipped", "in_transit", "delayed") and order.eta:
        parts.append(f"Estimated delivery: {_friendly_date(order.eta)}.")
    return " ".join(parts)


@dataclass
class OrderLookup:
    reply: str
    order: Order | None = None  # set only when verified
    status: str = "asked"  # asked | verified | not_matched | unavailable


def lookup(source: OrderSource, details: CollectedDetails) -> OrderLookup:
    """The reply to an order-status question, given everything the customer has told us so far."""
    if not details.order_numbers:
        return OrderLookup(ASK_FOR_ORDER)
    number = details.order_numbers[-1]
    if not details.email and not details.zip:
        return OrderLookup(ASK_FOR_VERIFICATION.format(order=number))
    try:
        order = source.get(number)
    except OrderSourceError:
        return OrderLookup(SOURCE_DOWN, status="unavailable")
    if order is None or not verified(order, details):
        return OrderLookup(NOT_MATCHED.format(order=number), status="not_matched")
    return OrderLookup(order_reply(order), order, "verified")
