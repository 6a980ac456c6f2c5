"""The wiring: pages, endpoints and jobs that compose several apps (the top layer).

Nothing below imports it; it may import every app (docs/architecture.md, "Layers").
"""
