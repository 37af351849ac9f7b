"""Claim write use cases, one module each: ``submit`` (claim_submit), ``payment``
(claim_payment_record) and ``retention`` (archive, purge and the sweep that runs both)."""
