"""Built-in plugin ``cameras``: ``--camera_keys=[...]`` keeps only the named cameras."""
