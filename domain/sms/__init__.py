"""The SMS workflow's domain: the `Sms` aggregate, its text rules and its provider port."""
