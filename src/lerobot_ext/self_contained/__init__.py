"""Built-in plugin ``self_contained``: a checkpoint carries the small files its policy is rebuilt
from (a VLM's config, tokenizer and processor files) and names them relative to itself."""
