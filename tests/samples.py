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
# order_total, renamed throughout, with one statement more: a near-duplicate.
ORDER_TOTAL_NEAR_COPY = textwrap.dedent(
    """\
    def invoice_sum(lines, rate, rebate=0):
        acc = 0
        for line in lines:
            if line.quantity <= 0:
                continue
            acc += line.price * line.quantity
        acc -= rebate
        extra = acc * rate
        print(extra)
        return round(acc + extra, 2)
    """
)
PARSE_DURATION = textwrap.dedent(
    """\
    def parse_duration(text):
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        total, number = 0, ""
        for ch in text.strip():
            if ch.isdigit():
                number += ch
            elif ch in units and number:
                total += int(number) * units[ch]
                number = ""
            else:
                raise ValueError(f"bad duration {text!r}")
        return total
    """
)
