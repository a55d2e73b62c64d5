"""The orders workflow's domain: the `Order` aggregate, `PlaceOrder`, the exchange port."""
