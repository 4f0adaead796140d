"""The JSON API under /api/v1/ and its OpenAPI 3.1 description."""
