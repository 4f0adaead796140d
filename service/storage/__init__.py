"""Storage: the only layer that talks SQL. Query functions take an `AsyncSession`."""
