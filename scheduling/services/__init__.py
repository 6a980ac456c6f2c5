"""Writes for scheduling, one module per concern; import from the module you need."""
