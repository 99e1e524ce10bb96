"""ASGI middleware of the public app; `app.py` decides their order."""
