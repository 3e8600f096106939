"""Helpers of the database layer (the ``@require_user`` decorator lives here, as before)."""
