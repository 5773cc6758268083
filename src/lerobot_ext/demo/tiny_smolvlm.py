"""A tiny, randomly initialised SmolVLM written offline: what SmolVLA needs to be built and trained
without the Hub (tests, demos, a first run on a machine with no network).

SmolVLA reads a VLM folder for its config (``AutoConfig``), its processor (``AutoProcessor``) and
its tokenizer (the ``TokenizerProcessorStep``), and, with ``--policy.load_vlm_weights=false``,
builds the model from the config with random weights. This writes such a folder: a word-level
tokenizer whose named special tokens include SmolVLM's image tokens (SmolVLA reads
``tokenizer.fake_image_token_id`` and ``global_image_token_id``), a processor with images at 32
pixels and no splitting, and a config with a 2-layer Llama text model (hidden 64) and a 1-layer
vision model (32-pixel images, 8-pixel patches, pixel shuffle 2: 4 tokens per image). Train with
``--policy.vlm_model_name=<folder> --policy.load_vlm_weights=false
--policy.resize_imgs_with_padding=[32,32] --policy.num_vlm_layers=2``.
"""

from __future__ import annotations

from pathlib import Path

SPECIAL_TOKENS = {
    "pad_token": "<pad>",
    "unk_token": "<unk>",
    "bos_token": "<|im_start|>",
    "eos_token": "<end_of_utterance>",
}
# SmolVLM's named tokens (transformers gives each an ``<name>_id`` attribute on the tokenizer).
IMAGE_TOKENS = {
    "fake_image_token": "<fake_token_around_image>",
    "image_token": "<image>",
    "global_image_token": "<global-img>",
    "end_of_utterance_token": "<end_of_utterance>",
}
# Enough words for the demo datasets' task strings; any other word is <unk>.
WORDS = [
    "pick",
    "place",
    "put",
    "the",
    "object",
    "cube",
    "block",
    "it",
    "on",
    "in",
    "into",
    "to",
    "go",
    "either",
    "goal",
    "push",
    "move",
    "left",
    "right",
    "up",
    "down",
    "open",
    "close",
    "gripper",
    "a",
    "an",
    "and",
    "of",
    "microwave",
    "counter",
    "sink",
    "walk",
    "wave",
    "hand",
]
IMAGE_SIZE = 32
FLAGS = [
    "--policy.load_vlm_weights=false",
    f"--policy.resize_imgs_with_padding=[{IMAGE_SIZE},{IMAGE_SIZE}]",
    "--policy.num_vlm_layers=2",
]


def write_tiny_smolvlm(folder: Path) -> Path:
    """Write the VLM folder (config, tokenizer, processor; no weights) and return it."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, SmolVLMConfig, SmolVLMImageProcessor, SmolVLMProcessor

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    specials = list(dict.fromkeys([*SPECIAL_TOKENS.values(), *IMAGE_TOKENS.values()]))
    grid = [f"<row_{r}_col_{c}>" for r in range(1, 4) for c in range(1, 4)]  # the processor names them
    vocab = {token: index for index, token in enumerate([*specials, *grid, *WORDS])}
    word_level = Tokenizer(models.WordLevel(vocab=vocab, unk_token=SPECIAL_TOKENS["unk_token"]))
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=word_level, extra_special_tokens=IMAGE_TOKENS, **SPECIAL_TOKENS
    )
    size = {"longest_edge": IMAGE_SIZE}
    image_processor = SmolVLMImageProcessor(
        do_resize=True, size=size, do_image_splitting=False, max_image_size=size
    )
    parts = {"image_processor": image_processor, "tokenizer": tokenizer, "image_seq_len": 4}
    try:  # transformers 5 gives SmolVLM a video processor too
        from transformers import SmolVLMVideoProcessor

        parts["video_processor"] = SmolVLMVideoProcessor(
            size=size, max_image_size=size, do_image_splitting=False
        )
    except ImportError:
        pass
    SmolVLMProcessor(**parts).save_pretrained(folder)
    SmolVLMConfig(
        text_config={
            "model_type": "llama",
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "vocab_size": len(vocab),
            "max_position_embeddings": 512,
            "pad_token_id": vocab[SPECIAL_TOKENS["pad_token"]],
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": IMAGE_SIZE,
            "patch_size": 8,
        },
        scale_factor=2,
        image_token_id=vocab[IMAGE_TOKENS["image_token"]],
        vocab_size=len(vocab),
        pad_token_id=vocab[SPECIAL_TOKENS["pad_token"]],
    ).save_pretrained(folder)
    return folder
