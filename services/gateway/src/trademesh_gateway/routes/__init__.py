"""The public API's routes, one module per resource.

Routes are added to the app itself with their full paths rather than through
`include_router`: FastAPI keeps included routers as one opaque route, which would
leave the shared RED metrics unable to label requests by route template.
"""

API_PREFIX = "/api/v1"
