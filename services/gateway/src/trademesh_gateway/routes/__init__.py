"""The public API's routes, one module per resource.

Each module adds its routes to the app itself with their full paths. (Routes
added through `include_router` would be labelled correctly too: the shared RED
metrics read the matched route's template from the request scope.)
"""

API_PREFIX = "/api/v1"
