"""Built-in plugin ``ema``: ``--ema.enable=true`` on lerobot 0.6.1, where upstream has no EMA.

lerobot 0.6.2 added EMA of the weights to ``lerobot-train`` (#4323); there this plugin adds
nothing and upstream's flag is used. On 0.6.1 it provides the same flags, the same schedule
(diffusers' ``EMAModel``) and the same checkpoint layout (``pretrained_model_ema/``,
``training_state/ema_state.pt``), so one command line works on both.
"""
