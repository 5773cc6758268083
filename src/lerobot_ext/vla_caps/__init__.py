"""Built-in plugin ``vla_caps``: raises a VLA's ``max_state_dim``/``max_action_dim`` to the data."""
