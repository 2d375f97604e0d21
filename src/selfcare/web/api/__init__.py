"""The JSON API under `/api/v1`: lines and orders for scripts, on the same rules as the pages.

- `register`: `init_api(server)` mounts the API (flask-smorest) on the portal's Flask server
- `v1`: the endpoints; each calls `selfcare.services` as the signed-in user or the token's owner
- `schemas`: the marshmallow schemas (request bodies, query strings, answers; the OpenAPI
  document is generated from them)
- `problems`: every error as RFC 9457 problem details
- `docs`: the browsable page beside `/api/v1/openapi.json`, its assets served locally

This package's `__init__` imports nothing, so the sign-in machinery can use `problems` without
importing the endpoints.
"""
