"""The public API's request, response and push-message shapes (the OpenAPI document)."""
