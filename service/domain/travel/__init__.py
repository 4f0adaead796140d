"""«Grønn helse»: the travel, time, CO2e and cost that a video consultation avoided (pure).

One module per concern; import from the one you need:

- `reference`: the shipped reference data in `service/data/` (municipalities, postal codes,
  hospitals, their routes) and its loading;
- `factors`: the dated, versioned factor set (`service/data/factors.json`) and the evaluator's
  overrides on top of it;
- `calculation`: the avoided travel, time, CO2e and cost of one consultation, and totals over many;
- `keys`: the anonymous travel key written at booking and the calculation once per key, which
  the statistics use.

Nothing here touches the network, the database or the clock. The formula, its assumptions and
every factor's source are in `docs/green-health.md`.
"""
