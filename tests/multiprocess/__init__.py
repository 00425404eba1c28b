"""Real servers (gunicorn, uvicorn) sharing PostgreSQL and Redis, under load and faults."""
