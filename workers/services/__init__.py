"""Services: review, indexing and retraining, free of Celery; collaborators are passed in."""
