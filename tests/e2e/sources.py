"""The code of the two repositories the end-to-end tests serve, and the pull requests against them.

``acme/shop`` (installation 1) has a few dozen small functions about an online shop;
``globex/geo`` (installation 2) a handful about geometry, sharing no function with the shop, so
that an answer given to one installation can be checked for the other's code.
"""

from __future__ import annotations

SHOP_FILES: dict[str, str] = {
    "shop/pricing.py": '''\
"""Prices, discounts and taxes."""


def apply_discount(price, percent):
    """Take a percentage off a price, never below zero."""
    if percent < 0 or percent > 100:
        raise ValueError("percent must lie between 0 and 100")
    reduced = price - price * percent / 100
    return max(reduced, 0)


def add_tax(amount, rate):
    return round(amount * (1 + rate), 2)


def price_with_shipping(price, weight_kg, per_kg=1.5, free_above=50):
    if price >= free_above:
        return price
    return price + weight_kg * per_kg


def cheapest(offers):
    best = None
    for offer in offers:
        if best is None or offer.price < best.price:
            best = offer
    return best


def bulk_price(unit_price, quantity):
    if quantity >= 100:
        return unit_price * quantity * 0.8
    if quantity >= 10:
        return unit_price * quantity * 0.9
    return unit_price * quantity
''',
    "shop/cart.py": '''\
"""The shopping cart."""


class Cart:
    def __init__(self):
        self.lines = {}

    def add(self, sku, quantity=1):
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        self.lines[sku] = self.lines.get(sku, 0) + quantity

    def remove(self, sku, quantity=1):
        left = self.lines.get(sku, 0) - quantity
        if left > 0:
            self.lines[sku] = left
        else:
            self.lines.pop(sku, None)

    def total(self, catalog):
        amount = 0
        for sku, quantity in self.lines.items():
            amount += catalog[sku].price * quantity
        return amount

    def is_empty(self):
        return not any(q > 0 for q in self.lines.values())


def merge_carts(first, second):
    merged = Cart()
    for cart in (first, second):
        for sku, quantity in cart.lines.items():
            merged.add(sku, quantity)
    return merged
''',
    "shop/inventory.py": '''\
"""Stock levels."""


def reserve(stock, sku, quantity):
    available = stock.get(sku, 0)
    if available < quantity:
        raise LookupError(f"only {available} of {sku} left")
    stock[sku] = available - quantity
    return stock[sku]


def restock(stock, deliveries):
    for sku, quantity in deliveries:
        stock[sku] = stock.get(sku, 0) + quantity
    return stock


def low_stock(stock, threshold=5):
    return sorted(sku for sku, quantity in stock.items() if quantity < threshold)


def stock_value(stock, catalog):
    return sum(catalog[sku].cost * quantity for sku, quantity in stock.items())
''',
    "shop/text.py": '''\
"""Text helpers for invoices and e-mails."""


def slugify(title):
    out = []
    for ch in title.lower():
        if ch.isalnum():
            out.append(ch)
        elif out and out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-")


def wrap_words(text, width=72):
    lines, current = [], ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def mask_card_number(number):
    digits = [c for c in number if c.isdigit()]
    if len(digits) < 4:
        raise ValueError("a card number has at least four digits")
    return "*" * (len(digits) - 4) + "".join(digits[-4:])


def format_money(amount, currency="EUR"):
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(round(abs(amount) * 100), 100)
    return f"{sign}{whole:,}.{cents:02d} {currency}"
''',
    "shop/orders.py": '''\
"""Orders and their life cycle."""

import datetime


def order_number(sequence, today=None):
    today = today or datetime.date.today()
    return f"{today:%Y%m%d}-{sequence:06d}"


def can_cancel(order, now):
    if order.status in ("shipped", "delivered"):
        return False
    return (now - order.created_at).total_seconds() < 24 * 3600


def group_by_customer(orders):
    groups = {}
    for order in orders:
        groups.setdefault(order.customer_id, []).append(order)
    return groups


def revenue_by_month(orders):
    months = {}
    for order in orders:
        key = order.created_at.strftime("%Y-%m")
        months[key] = months.get(key, 0) + order.total
    return dict(sorted(months.items()))


def next_status(status):
    """The status that follows ``status`` in an order's life."""
    flow = ["new", "paid", "packed", "shipped", "delivered"]
    position = flow.index(status)
    if position + 1 == len(flow):
        raise ValueError(f"{status} is the last status")
    return flow[position + 1]
''',
}

# apply_discount with its variables renamed and one statement more: the near-copy a PR adds.
NEAR_COPY_PATH = "shop/promotions.py"
NEAR_COPY = '''\
"""Seasonal promotions."""


def holiday_price(amount, off):
    """Take a percentage off a price, never below zero."""
    if off < 0 or off > 100:
        raise ValueError("off must lie between 0 and 100")
    off = float(off)
    lowered = amount - amount * off / 100
    return max(lowered, 0)


def promotion_banner(name, ends_on):
    headline = name.upper()
    return f"{headline}: until {ends_on:%d %B}"
'''
NEAR_COPY_SIGNATURE_LINE = 4  # "def holiday_price(amount, off):"

# A second change to the same PR that has nothing to do with the copy.
UNRELATED_EDIT = {
    "shop/text.py": SHOP_FILES["shop/text.py"].replace(
        'def format_money(amount, currency="EUR"):\n    sign = "-" if amount < 0 else ""',
        'def format_money(amount, currency="EUR"):\n    sign = "\\u2212" if amount < 0 else ""',
    )
}

# Another near-copy, for the pull request whose worker is killed: next_status, renamed.
SECOND_COPY_PATH = "shop/workflow.py"
SECOND_COPY = '''\
"""Return flow."""


def following_step(step):
    """The status after this one."""
    steps = ["new", "paid", "packed", "shipped", "delivered"]
    index = steps.index(step)
    if index + 1 == len(steps):
        raise ValueError(f"{step} is the last status")
    print("advancing", step)
    return steps[index + 1]
'''
SECOND_COPY_SIGNATURE_LINE = 4

GEO_FILES: dict[str, str] = {
    "geo/shapes.py": '''\
"""Plane geometry."""

import math


def circle_area(radius):
    if radius < 0:
        raise ValueError("radius must not be negative")
    return math.pi * radius * radius


def polygon_perimeter(points):
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1]):
        total += math.hypot(x2 - x1, y2 - y1)
    return total


def bounding_box(points):
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    return min(xs), min(ys), max(xs), max(ys)
''',
    "geo/vectors.py": '''\
"""2-D vectors as tuples."""

import math


def dot(a, b):
    return a[0] * b[0] + a[1] * b[1]


def normalize(v):
    length = math.hypot(v[0], v[1])
    if length == 0:
        raise ZeroDivisionError("cannot normalize the zero vector")
    return v[0] / length, v[1] / length


def rotate(v, degrees):
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    return v[0] * cos - v[1] * sin, v[0] * sin + v[1] * cos
''',
}

GEO_PULL_FILES = {
    "geo/lines.py": '''\
"""Line segments."""


def midpoint(a, b):
    return (a[0] + b[0]) / 2, (a[1] + b[1]) / 2


def segment_length(a, b):
    dx, dy = b[0] - a[0], b[1] - a[1]
    return (dx * dx + dy * dy) ** 0.5
''',
}

# Describes shop code (apply_discount); asked on the geometry repository it must find geometry only.
SHOP_QUERY = "take a percentage discount off a price"
