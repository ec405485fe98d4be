"""Scale-out: the pipeline's page steps as Celery tasks fed through a broker (Redis)."""
