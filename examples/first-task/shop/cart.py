"""A shopping cart: line items and the total to pay."""


def line_total(price, quantity):
    return price * quantity


def cart_total(items, discount_percent=0):
    """The sum of the line totals, less a discount given in percent (10 means 10% off)."""
    subtotal = sum(line_total(price, quantity) for price, quantity in items)
    return round(subtotal * discount_percent / 100, 2)
