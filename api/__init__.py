"""The REST API: FastAPI app, routers per resource, dependencies and auth."""
