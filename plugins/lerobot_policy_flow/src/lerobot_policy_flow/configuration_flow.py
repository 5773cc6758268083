"""Configuration of the `flow` policy (``--policy.type=flow``).

The flow policy keeps Diffusion Policy's network (ResNet + spatial-softmax image encoders,
FiLM-conditioned 1D U-Net) and replaces the DDPM/DDIM objective by flow matching. Every
architecture and optimizer field keeps the name, default and meaning it has in LeRobot's
``DiffusionConfig``, so a diffusion command line can be switched to flow by changing
``--policy.type`` and dropping the noise-scheduler flags (which do not exist here).

Flow convention (see README.md): ``t = 1`` is pure Gaussian noise, ``t = 0`` is the
normalised action chunk, ``x_t = t * noise + (1 - t) * action`` and the network predicts the
velocity ``v = noise - action``. Sampling integrates ``dx/dt = v`` from ``t = 1`` to ``t = 0``.
"""

import logging
from dataclasses import dataclass, field

from lerobot.configs import NormalizationMode, PreTrainedConfig
from lerobot.optim import AdamConfig, DiffuserSchedulerConfig

ODE_SOLVERS = ("euler", "midpoint", "heun")
TIME_SAMPLINGS = ("uniform", "beta")


log = logging.getLogger(__name__)


class FlowConfigError(ValueError):
    """An invalid `flow` policy setting (subclasses ValueError so generic handlers still work)."""

    # Set once the message has been logged, so a CLI that reports the cause does not repeat it.
    logged = False


def _fail(field_name: str, value, fix: str) -> None:
    error = FlowConfigError(f"Invalid flow policy setting `{field_name}`={value!r}: {fix}")
    # Stock lerobot-train parses the config with draccus, which replaces this error by "Couldn't
    # instantiate class FlowConfig"; logging it here is the only way its text reaches the user.
    log.error("%s", error)
    error.logged = True
    raise error


def _valid_horizons(factor: int, around: int, count: int = 4) -> list[int]:
    """A few horizons that are multiples of `factor`, starting at the one closest to `around`."""
    first = max(factor, (around // factor) * factor)
    return [first + i * factor for i in range(count)]


@PreTrainedConfig.register_subclass("flow")
@dataclass
class FlowConfig(PreTrainedConfig):
    """Diffusion Policy's architecture trained with flow matching.

    Inputs / outputs (same rules as Diffusion Policy): "observation.state" and "action" are
    required; at least one "observation.image*" feature and/or "observation.environment_state"
    must be present; all cameras must share one shape.

    Fields shared with DiffusionConfig (same name, default and meaning):
        n_obs_steps, horizon, n_action_steps, normalization_mapping, drop_n_last_frames,
        vision_backbone, resize_shape, crop_ratio, crop_shape, crop_is_random,
        pretrained_backbone_weights, use_group_norm, spatial_softmax_num_keypoints,
        use_separate_rgb_encoder_per_camera, down_dims, kernel_size, n_groups,
        diffusion_step_embed_dim (size of the flow-time embedding), use_film_scale_modulation,
        gradient_checkpointing, compile_model, compile_mode, do_mask_loss_for_padding,
        optimizer_lr, optimizer_betas, optimizer_eps, optimizer_weight_decay, scheduler_name,
        scheduler_warmup_steps.

    Flow-matching fields:
        num_inference_steps: number of ODE steps from t=1 to t=0 at inference. Network
            evaluations per chunk: N (euler), 2N (midpoint), 2N-1 (heun).
        ode_solver: "euler", "midpoint" (explicit RK2 midpoint) or "heun" (Heun's 2nd-order
            method; the last step is a plain Euler step so t=0 is never evaluated).
        time_sampling: training distribution of t. "uniform": t ~ U(1-s, 1].
            "beta": pi0's t = s * Beta(alpha, beta) + (1 - s), which with the default
            Beta(1.5, 1) puts more weight on the noisy end (t near 1).
        time_sampling_beta_alpha / time_sampling_beta_beta: Beta parameters for "beta".
        time_sampling_scale: s above; t is always in [1 - s, 1] (so never exactly 0).
        time_embed_scale: t in [0, 1] is multiplied by this before the U-Net's sinusoidal
            embedding (which was designed for integer diffusion steps); without it the
            embedding barely changes over [0, 1].
    """

    # Inputs / output structure.
    n_obs_steps: int = 2
    horizon: int = 64
    n_action_steps: int = 32

    normalization_mapping: dict[str, NormalizationMode] = field(
        default_factory=lambda: {
            "VISUAL": NormalizationMode.MEAN_STD,
            "STATE": NormalizationMode.MIN_MAX,
            "ACTION": NormalizationMode.MIN_MAX,
        }
    )

    # Frames at the end of each episode that are never used as the first frame of a sample.
    drop_n_last_frames: int = 7

    # Vision backbone.
    vision_backbone: str = "resnet18"
    resize_shape: tuple[int, int] | None = None
    crop_ratio: float = 1.0
    crop_shape: tuple[int, int] | None = None
    crop_is_random: bool = True
    pretrained_backbone_weights: str | None = "ResNet18_Weights.IMAGENET1K_V1"
    use_group_norm: bool = False
    spatial_softmax_num_keypoints: int = 32
    use_separate_rgb_encoder_per_camera: bool = True

    # U-Net.
    down_dims: tuple[int, ...] = (512, 1024, 2048)
    kernel_size: int = 5
    n_groups: int = 8
    diffusion_step_embed_dim: int = 128
    use_film_scale_modulation: bool = True
    gradient_checkpointing: bool = False

    # Flow matching.
    num_inference_steps: int = 10
    ode_solver: str = "euler"
    time_sampling: str = "beta"
    time_sampling_beta_alpha: float = 1.5
    time_sampling_beta_beta: float = 1.0
    time_sampling_scale: float = 0.999
    time_embed_scale: float = 1000.0

    # Optimization.
    compile_model: bool = False
    compile_mode: str = "reduce-overhead"

    # Loss computation.
    do_mask_loss_for_padding: bool = False

    # Training presets.
    optimizer_lr: float = 1e-4
    optimizer_betas: tuple = (0.95, 0.999)
    optimizer_eps: float = 1e-8
    optimizer_weight_decay: float = 1e-6
    scheduler_name: str = "cosine"
    scheduler_warmup_steps: int = 500

    def __post_init__(self):
        super().__post_init__()
        self._validate_structure()
        self._validate_vision()
        self._validate_unet()
        self._validate_flow()

    # ----------------------------------------------------------------- validation helpers
    def _validate_structure(self) -> None:
        for name in ("n_obs_steps", "horizon", "n_action_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                _fail(name, value, f"must be a positive integer, e.g. --policy.{name}=1.")
        if self.drop_n_last_frames < 0:
            _fail(
                "drop_n_last_frames",
                self.drop_n_last_frames,
                "must be >= 0; usually horizon - n_action_steps - n_obs_steps + 1 "
                f"(= {max(0, self.horizon - self.n_action_steps - self.n_obs_steps + 1)} here).",
            )
        max_action_steps = self.horizon - self.n_obs_steps + 1
        if self.n_action_steps > max_action_steps:
            _fail(
                "n_action_steps",
                self.n_action_steps,
                f"must be <= horizon - n_obs_steps + 1 = {self.horizon} - {self.n_obs_steps} + 1 = "
                f"{max_action_steps} (actions are executed from index n_obs_steps - 1 of the chunk). "
                f"Use --policy.n_action_steps={max(1, max_action_steps)} or raise --policy.horizon "
                f"to at least {self.n_action_steps + self.n_obs_steps - 1}.",
            )

    def _validate_vision(self) -> None:
        if not self.vision_backbone.startswith("resnet"):
            _fail(
                "vision_backbone",
                self.vision_backbone,
                "only torchvision ResNets are supported (the encoder cuts the ResNet before its "
                "pooling head); use e.g. --policy.vision_backbone=resnet18.",
            )
        if self.use_group_norm and self.pretrained_backbone_weights:
            _fail(
                "use_group_norm",
                self.use_group_norm,
                "replacing BatchNorm by GroupNorm would ruin pretrained_backbone_weights="
                f"{self.pretrained_backbone_weights!r}; set --policy.use_group_norm=false or "
                "--policy.pretrained_backbone_weights=null.",
            )
        if self.resize_shape is not None and (
            len(self.resize_shape) != 2 or any(d <= 0 for d in self.resize_shape)
        ):
            _fail("resize_shape", self.resize_shape, "must be two positive integers (H, W), e.g. [128,128].")
        if not (0 < self.crop_ratio <= 1.0):
            _fail("crop_ratio", self.crop_ratio, "must be in (0, 1]; use 1.0 to disable cropping.")
        # Same derivation rule as DiffusionConfig: with resize_shape set, crop_shape follows crop_ratio.
        if self.resize_shape is not None:
            derived = (
                (int(self.resize_shape[0] * self.crop_ratio), int(self.resize_shape[1] * self.crop_ratio))
                if self.crop_ratio < 1.0
                else None
            )
            # A config saved by this class already holds the derived crop, so only a value the
            # user chose differs from it; DiffusionConfig drops that without a word.
            if self.crop_shape is not None and tuple(self.crop_shape) != derived:
                self._warn_crop_shape_overridden(derived)
            self.crop_shape = derived
        if self.crop_shape is not None and (
            len(self.crop_shape) != 2 or self.crop_shape[0] <= 0 or self.crop_shape[1] <= 0
        ):
            _fail(
                "crop_shape", self.crop_shape, "must be two positive integers (H, W), e.g. [84,84], or null."
            )
        if self.spatial_softmax_num_keypoints < 1:
            _fail("spatial_softmax_num_keypoints", self.spatial_softmax_num_keypoints, "must be >= 1.")

    def _warn_crop_shape_overridden(self, derived: tuple[int, int] | None) -> None:
        log.warning(
            "flow policy: crop_shape=%s is ignored because resize_shape=%s is set: the crop then "
            "follows crop_ratio=%s (crop = int(resize * crop_ratio), as in DiffusionConfig), so %s is "
            "used. To crop the resized images set --policy.crop_ratio below 1; to crop without "
            "resizing, set --policy.resize_shape=null.",
            tuple(self.crop_shape),
            tuple(self.resize_shape),
            self.crop_ratio,
            f"a {derived[0]}x{derived[1]} crop" if derived else "no crop",
        )

    def _validate_unet(self) -> None:
        if len(self.down_dims) == 0:
            _fail("down_dims", self.down_dims, "needs at least one stage, e.g. [512,1024,2048].")
        factor = 2 ** len(self.down_dims)
        if self.horizon % factor != 0:
            _fail(
                "horizon",
                self.horizon,
                f"must be a multiple of 2**len(down_dims) = {factor} (down_dims={tuple(self.down_dims)}). "
                f"Horizons that work: {', '.join(map(str, _valid_horizons(factor, self.horizon)))}, ...; "
                "or use fewer down_dims stages.",
            )
        bad = [d for d in self.down_dims if d % self.n_groups != 0]
        if bad:
            _fail(
                "n_groups",
                self.n_groups,
                f"every entry of down_dims must be divisible by n_groups (GroupNorm); {bad} are not. "
                "Pick n_groups dividing all of down_dims.",
            )
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            _fail(
                "kernel_size", self.kernel_size, "must be a positive odd integer (e.g. 5) to keep the length."
            )
        if self.diffusion_step_embed_dim < 4 or self.diffusion_step_embed_dim % 2 != 0:
            _fail(
                "diffusion_step_embed_dim",
                self.diffusion_step_embed_dim,
                "must be an even integer >= 4 (sin/cos halves of the sinusoidal embedding), e.g. 128.",
            )

    def _validate_flow(self) -> None:
        if self.ode_solver not in ODE_SOLVERS:
            _fail(
                "ode_solver",
                self.ode_solver,
                f"choose one of {', '.join(ODE_SOLVERS)} (e.g. --policy.ode_solver=euler).",
            )
        if self.time_sampling not in TIME_SAMPLINGS:
            _fail(
                "time_sampling",
                self.time_sampling,
                f"choose one of {', '.join(TIME_SAMPLINGS)} (e.g. --policy.time_sampling=beta).",
            )
        if not isinstance(self.num_inference_steps, int) or self.num_inference_steps < 1:
            _fail(
                "num_inference_steps",
                self.num_inference_steps,
                "must be an integer >= 1 (number of ODE steps), e.g. --policy.num_inference_steps=10.",
            )
        if not (0.0 < self.time_sampling_scale <= 1.0):
            _fail(
                "time_sampling_scale",
                self.time_sampling_scale,
                "must be in (0, 1]; training times are drawn from [1 - scale, 1] (default 0.999).",
            )
        for name in ("time_sampling_beta_alpha", "time_sampling_beta_beta"):
            if getattr(self, name) <= 0:
                _fail(name, getattr(self, name), "Beta parameters must be > 0 (defaults 1.5 and 1.0).")
        if self.time_embed_scale <= 0:
            _fail(
                "time_embed_scale",
                self.time_embed_scale,
                "must be > 0; t in [0, 1] is multiplied by it before the sinusoidal embedding "
                "(default 1000).",
            )

    # ------------------------------------------------------------------ lerobot interface
    def get_optimizer_preset(self) -> AdamConfig:
        return AdamConfig(
            lr=self.optimizer_lr,
            betas=self.optimizer_betas,
            eps=self.optimizer_eps,
            weight_decay=self.optimizer_weight_decay,
        )

    def get_scheduler_preset(self) -> DiffuserSchedulerConfig:
        return DiffuserSchedulerConfig(name=self.scheduler_name, num_warmup_steps=self.scheduler_warmup_steps)

    def validate_features(self) -> None:
        if self.robot_state_feature is None:
            raise FlowConfigError(
                "The flow policy needs an `observation.state` input feature (it is part of the U-Net's "
                "global conditioning, like in Diffusion Policy)."
            )
        if self.action_feature is None:
            raise FlowConfigError("The flow policy needs an `action` output feature.")
        if len(self.image_features) == 0 and self.env_state_feature is None:
            raise FlowConfigError(
                "The flow policy needs at least one image (`observation.image*`) or an "
                "`observation.environment_state` input feature."
            )
        if self.image_features:
            first_key, first_ft = next(iter(self.image_features.items()))
            for key, ft in self.image_features.items():
                if ft.shape != first_ft.shape:
                    raise FlowConfigError(
                        f"All cameras must share one shape: `{key}` has {ft.shape} but `{first_key}` has "
                        f"{first_ft.shape}. Resize them to a common shape (e.g. --policy.resize_shape)."
                    )
            _, height, width = first_ft.shape
            crop_too_big = self.crop_shape is not None and (
                self.crop_shape[0] > height or self.crop_shape[1] > width
            )
            if self.resize_shape is None and crop_too_big:
                _fail(
                    "crop_shape",
                    self.crop_shape,
                    f"must fit inside the images ({height}x{width} for `{first_key}`); "
                    "use a smaller crop or set --policy.crop_shape=null.",
                )
            # A ResNet downsamples by 32: an input of at most 32x32 px gives a 1x1 feature map, on
            # which the spatial softmax returns constant keypoints, so the camera would be ignored.
            seen_h, seen_w = self.crop_shape or self.resize_shape or (height, width)
            if seen_h <= 32 and seen_w <= 32:
                name, value = (
                    ("crop_shape", self.crop_shape)
                    if self.crop_shape
                    else ("resize_shape", self.resize_shape)
                    if self.resize_shape
                    else (f"input_features[{first_key!r}].shape", first_ft.shape)
                )
                _fail(
                    name,
                    value,
                    f"the backbone would see {seen_h}x{seen_w} px images, which a ResNet reduces to a 1x1 "
                    "feature map; spatial-softmax keypoints are then constant and the cameras are ignored. "
                    "Use crops/resizes larger than 32 px (e.g. --policy.crop_shape=[84,84]).",
                )

    @property
    def observation_delta_indices(self) -> list:
        return list(range(1 - self.n_obs_steps, 1))

    @property
    def action_delta_indices(self) -> list:
        return list(range(1 - self.n_obs_steps, 1 - self.n_obs_steps + self.horizon))

    @property
    def reward_delta_indices(self) -> None:
        return None
