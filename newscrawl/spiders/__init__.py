"""The project's spiders (one module per spider)."""
