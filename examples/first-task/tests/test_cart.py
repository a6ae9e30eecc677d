from shop.cart import cart_total, line_total


def test_line_total():
    assert line_total(2.5, 4) == 10.0


def test_no_discount():
    assert cart_total([(10.0, 2), (5.0, 1)]) == 25.0


def test_ten_percent_off():
    assert cart_total([(10.0, 2), (5.0, 1)], discount_percent=10) == 22.5
