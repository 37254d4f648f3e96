"""Flows on Celery workers: the queue per profile, Redis leases, live progress, cancel."""
