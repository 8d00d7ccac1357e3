"""The HTTP API: one FastAPI app, served by uvicorn locally and by Lambda on AWS."""
