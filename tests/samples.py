"""Realistic sample functions shared by the review and Action tests."""

from __future__ import annotations

import textwrap

ORDER_TOTAL = textwrap.dedent(
    '''\
    def order_total(items, tax_rate, discount=0):
        """Total of an order with tax, after a discount."""
        subtotal = 0
        for item in items:
            if item.quantity <= 0:
                continue
            subtotal += item.price * item.quantity
        subtotal -= discount
        tax = subtotal * tax_rate
        return round(subtotal + tax, 2)
    '''
)
SLUGIFY = textwrap.dedent(
    """\
    def slugify(title, max_length=40):
        words = []
        for word in title.lower().split():
            cleaned = "".join(ch for ch in word if ch.isalnum())
            if cleaned:
                words.append(cleaned)
        slug = "-".join(words)
        return slug[:max_length].rstrip("-")
    """
)
