"""The ``agent-tracing`` viewer: operations from JSON-lines logs as a tree or a timeline page.

Stdlib plus the core's dependencies only. ``reader`` streams and merges the input, ``filters``
chooses lines, ``tree`` builds the span tree, ``terminal`` and ``html`` render it, ``operations``
lists operations and ``follow`` tails growing files.
"""
