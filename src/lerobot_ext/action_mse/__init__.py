"""Built-in plugin ``action_mse``: a held-out action error with fixed noise, logged during training.

For flow matching and diffusion the training loss mixes noise levels and hardly tracks how good
the sampled actions are; diffusion_policy logs the error of sampled actions instead. With
``--action_mse.root=<held-out dataset>`` this plugin samples action chunks for a fixed set of
held-out frames, with fixed noise, every ``--action_mse.every`` steps.
"""
