"""``RECORD_REFUSED``: count refused origins in memory (``recorder``), write them off the request path (``flush``)."""
