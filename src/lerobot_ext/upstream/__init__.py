"""What lerobot-ext needs from upstream lerobot: the tested versions and every name it relies on."""
