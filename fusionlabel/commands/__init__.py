"""CLI sub-commands: one module each, exposing ``register(app)``."""
