"""Built-in plugin ``data_cache``: ``--data_cache=DIR`` serves training items from frames decoded
once, bit-identical to what lerobot's own decoder gives; ``lerobot-ext cache build|info``."""
