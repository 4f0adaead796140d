"""Shipped reference data for «grønn helse» (municipalities, postal codes, hospitals, factors).

A package so the CSV/JSON/Markdown files beside this module are installed with the service; the
files are read by `service.domain.travel` (`reference`, `factors`) and rebuilt by
`service.data.derive_reference_data`.
"""
