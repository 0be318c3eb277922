"""TrainConfig: every option of a run, its range and its default, in one place.

The page builds its controls from ``TrainConfig.model_json_schema()``; losses and
regularizers registered by plug-ins appear in that schema as allowed names.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from gan_core.losses import LOSSES, bce
from gan_core.regularizers import REGULARIZERS

DATASETS_1D = ("gaussian1d", "mixture1d", "separated1d", "dirac", "points1d")
DATASETS_2D = ("ring8", "grid25", "swissroll", "moons", "spiral", "points")
DatasetName = Literal[DATASETS_1D + DATASETS_2D]  # type: ignore[valid-type]

Width = Annotated[int, Field(ge=1, le=1024)]
Coord = Annotated[float, Field(ge=-10.0, le=10.0)]
Std = Annotated[float, Field(ge=0.01, le=5.0)]
Norm = Literal["none", "batch", "layer"]

# The most points (2D) or values (1D) a config holds as the user's own target. Bound by the
# link: the address writes a point as at most 14 characters (x_y, 3 decimals), so 500 of them
# take at most 7,000 of a link's 8,000 (web/link.js MAX_LINK_CHARS).
MAX_POINTS = 500
# The user's own targets and the field that holds their data.
OWN_DATA = {"points": "points", "points1d": "values"}

# The D optimizers whose step unroll_steps differentiates through (gan_core.unrolled).
UNROLLABLE = ("sgd", "adam", "optimistic")

# Changing these changes the shape of a model or of the data: they apply on reset only.
RESET_ONLY = (
    "g_hidden",
    "d_hidden",
    "activation",
    "z_dim",
    "seed",
    "dirac_init",
    "discriminator",
    "pack",
    "minibatch_stddev",
    "g_output",
    "scale_target",
    "g_norm",
    "d_norm",
)

# The penalties that take each sample's gradient grad_x D(x_i), meaningless when D's score of
# a sample depends on the rest of its batch (batch norm in D); see TrainConfig._batch_norm_fits.
PER_SAMPLE_PENALTIES = ("gp", "lp", "r1", "r2", "dragan", "gp0")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TargetConfig(Strict):
    """Parameters of the toy targets; each target reads only the ones it needs."""

    mean: Coord = Field(0.0, description="gaussian1d: mean")
    std: Std = Field(0.5, description="gaussian1d: standard deviation")
    means: list[Coord] = Field(
        [-2.0, 2.0], min_length=1, max_length=5, description="mixture1d: means"
    )
    stds: list[Std] = Field([0.3, 0.3], min_length=1, max_length=5, description="mixture1d: stds")
    weights: list[Annotated[float, Field(gt=0.0, le=100.0)]] = Field(
        [1.0, 1.0], min_length=1, max_length=5, description="mixture1d: relative weights"
    )
    separation: float = Field(
        4.0, ge=0.0, le=8.0, description="separated1d: distance of the real N(d, 0.25) from 0"
    )
    points: list[tuple[Coord, Coord]] = Field(
        default_factory=list,
        max_length=MAX_POINTS,
        description="points: your 2D points, 1 to 500 (drawn on the plot or uploaded)",
    )
    values: list[Coord] = Field(
        [],  # a default the schema shows (the page's address omits it)
        max_length=MAX_POINTS,
        description="points1d: your 1D values, 1 to 500 (uploaded)",
    )
    point_std: float = Field(
        0.05, ge=0.0, le=2.0, description="points, points1d: Gaussian blur of each"
    )

    @model_validator(mode="after")
    def _mixture_lengths_agree(self) -> TargetConfig:
        if not len(self.means) == len(self.stds) == len(self.weights):
            raise ValueError("target.means, target.stds and target.weights need the same length")
        return self


class OptimizerConfig(Strict):
    name: Literal["sgd", "adam", "rmsprop", "optimistic", "optimistic_adam"] = Field(
        "adam",
        description=(
            "optimistic: gradient descent with 2 g_t - g_(t-1); optimistic_adam: Adam with "
            "2 u_t - u_(t-1) (Daskalakis et al. 2018)"
        ),
    )
    lr: float = Field(1e-3, gt=0.0, le=10.0, description="learning rate (log scale)")
    betas: tuple[
        Annotated[float, Field(ge=0.0, lt=1.0)], Annotated[float, Field(ge=0.0, lt=1.0)]
    ] = Field((0.5, 0.9), description="adam and optimistic_adam: (beta1, beta2)")
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="sgd and rmsprop: momentum")


class RegularizerConfig(BaseModel):
    """``{"kind": name, "weight": strength, ...its own parameters}``."""

    model_config = ConfigDict(extra="allow")

    kind: str = Field(description="a registered regularizer")
    weight: float | None = Field(None, description="its strength; its default when omitted")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in REGULARIZERS:
            raise ValueError(f"unknown regularizer {kind!r}; allowed: {allowed(REGULARIZERS)}")
        return kind

    @field_validator("weight")
    @classmethod
    def _weight_in_range(cls, weight: float | None, info: ValidationInfo) -> float | None:
        kind = info.data.get("kind")  # absent when the kind itself was refused
        if weight is None or kind is None:
            return weight
        spec = REGULARIZERS.get(kind)
        lo, hi = spec.weight_range
        if not lo <= weight <= hi:
            raise ValueError(
                f"{kind} {spec.weight_name} (weight) must be in [{lo:g}, {hi:g}], got {weight:g}"
            )
        return weight

    @model_validator(mode="after")
    def _weight_and_params(self) -> RegularizerConfig:
        spec = REGULARIZERS.get(self.kind)
        if self.weight is None:
            self.weight = spec.default_weight
        params = spec.params.model_validate_json(json.dumps(self.model_extra or {}), strict=True)
        for key, value in params.model_dump().items():
            setattr(self, key, value)
        return self


def allowed(registry: Any) -> str:
    return ", ".join(registry.names())


def _enum_of(registry: Any) -> Any:
    """A JSON-schema hook that lists a registry's names at the time the schema is made."""
    return lambda schema: schema.update(enum=registry.names())


class TrainConfig(Strict):
    """One training run: target, loss, regularizers, optimizers, architecture, seed."""

    dataset: DatasetName = Field("ring8", description="the real distribution")
    target: TargetConfig = Field(default_factory=TargetConfig)
    loss: str = Field("wgan", description="adversarial loss", json_schema_extra=_enum_of(LOSSES))
    regularizers: list[RegularizerConfig] = Field(
        default_factory=lambda: [RegularizerConfig(kind="gp", weight=0.1)],
        max_length=16,
        description="active penalties and constraints",
    )
    opt_g: OptimizerConfig = Field(default_factory=OptimizerConfig)
    opt_d: OptimizerConfig = Field(default_factory=OptimizerConfig)
    d_steps: int = Field(2, ge=1, le=20, description="D updates per generator iteration")
    g_steps: int = Field(1, ge=1, le=20, description="G updates per generator iteration")
    unroll_steps: int = Field(
        0,
        ge=0,
        le=10,
        description=(
            "G's update sees D after this many further D steps, differentiated through "
            "(Metz et al. 2016); 0 off; D's optimizer must be sgd, adam or optimistic"
        ),
    )
    update_scheme: Literal["alternating", "simultaneous", "extragradient"] = Field(
        "alternating",
        description=(
            "alternating: D then G; simultaneous: both from the same point; extragradient: "
            "both extrapolate a step, then update from the start with the gradients there"
        ),
    )
    g_ema: float = Field(
        0.0,
        ge=0.0,
        le=0.9999,
        description=(
            "decay of a moving average of G's weights, shown beside G (Yazici et al. 2019); "
            "0 off, 0.999 as in StudioGAN and GAN_stability"
        ),
    )
    batch_size: int = Field(256, ge=1, le=2048)
    z_dim: int = Field(2, ge=1, le=64, description="latent dimension")
    noise: Literal["gaussian", "uniform"] = Field("gaussian", description="latent distribution")
    g_hidden: list[Width] = Field([64, 64, 64], max_length=6, description="G hidden widths")
    d_hidden: list[Width] = Field([64, 64, 64], max_length=6, description="D hidden widths")
    activation: Literal["relu", "leaky_relu", "tanh", "elu"] = "relu"
    discriminator: Literal["mlp", "autoencoder"] = Field(
        "mlp",
        validate_default=True,
        description="D's shape: an MLP to one score, or an autoencoder whose score is minus "
        "its reconstruction error (the energy of ebgan)",
    )
    pack: int = Field(
        1,
        ge=1,
        le=4,
        description="PacGAN: D scores packs of this many samples, all real or all fake (1 = off)",
    )
    minibatch_stddev: bool = Field(
        False,
        description="D's input gets one more feature: the batch's mean per-feature std",
    )
    g_output: Literal["linear", "tanh"] = Field(
        "linear",
        description=(
            "G's last layer: linear, or tanh (Radford et al. 2016), whose output lies in (-1, 1)"
        ),
    )
    scale_target: bool = Field(
        True,
        description=(
            "with g_output tanh: the networks work on the data divided by s = max|x| / 0.9 of "
            "the target's reference sample, so it fits in (-1, 1); off, G stays within [-1, 1]"
        ),
    )
    g_norm: Norm = Field("none", description="a normalisation layer after each hidden layer of G")
    allow_batch_norm_penalty: bool = Field(
        False,
        description=(
            "allow a per-sample gradient penalty with d_norm batch (to see what it measures: "
            "each gradient then depends on the whole batch)"
        ),
    )
    d_norm: Norm = Field("none", description="a normalisation layer after each hidden layer of D")
    label_noise: float = Field(
        0.0,
        ge=0.0,
        le=0.5,
        description=(
            "probability that each real or fake label of D's loss is flipped (losses with "
            "labels, e.g. minimax, lsgan, hinge)"
        ),
    )
    truncation: float = Field(
        0.0,
        ge=0.0,
        le=4.0,
        description=(
            "views and metrics only: each latent coordinate drawn within [-t, t] (0 off), "
            "the truncation trick of BigGAN (Brock et al. 2019); training never truncates"
        ),
    )
    ebgan_margin: float = Field(
        1.0, gt=0.0, le=100.0, description="ebgan: the margin m, the energy D aims at on fakes"
    )
    seed: int = Field(0, ge=0, le=2**31 - 1)
    dirac_init: tuple[Coord, Coord] = Field((1.0, 1.0), description="dirac: initial (theta, psi)")

    @model_validator(mode="after")
    def _own_data_given(self) -> TrainConfig:
        """The user's own target (points, points1d) needs 1 to MAX_POINTS of its data; the
        error names the field that holds it (target.points, target.values)."""
        field = OWN_DATA.get(self.dataset)
        if field and not getattr(self.target, field):
            raise nested_error(
                ("target", field),
                f"the {self.dataset} target needs 1 to {MAX_POINTS} {field}, got none; "
                + ("draw them on the plot or " if self.dataset == "points" else "")
                + "upload a CSV or JSON file of them",
                [],
            )
        return self

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, loss: str, info: ValidationInfo) -> str:
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; allowed: {allowed(LOSSES)}")
        if info.data.get("dataset") == "dirac" and LOSSES.get(loss).g_on_features:
            raise ValueError(
                f"{loss} matches D's hidden features and the Dirac-GAN's D has none: "
                "choose another loss or another dataset"
            )
        return loss

    @field_validator("unroll_steps")
    @classmethod
    def _unrollable_optimizer(cls, steps: int, info: ValidationInfo) -> int:
        opt_d, loss = info.data.get("opt_d"), info.data.get("loss")
        if steps and loss in LOSSES and LOSSES.get(loss).g_on_features:
            raise ValueError(
                f"loss {loss} matches D's features, which the unrolled D does not give; "
                f"set unroll_steps to 0 or choose a loss on D's scores"
            )
        if steps and opt_d is not None and opt_d.name not in UNROLLABLE:
            raise ValueError(
                f"unrolling differentiates through D's optimizer steps, which is done for "
                f"{', '.join(UNROLLABLE)}; opt_d is {opt_d.name}: choose one of those or "
                f"set unroll_steps to 0"
            )
        return steps

    @field_validator("discriminator")
    @classmethod
    def _discriminator_fits(cls, kind: str, info: ValidationInfo) -> str:
        if kind == "autoencoder" and info.data.get("dataset") == "dirac":
            raise ValueError("the Dirac-GAN's D is psi * x: use mlp for dataset dirac")
        loss = info.data.get("loss")
        needs = LOSSES.get(loss).needs_discriminator if loss in LOSSES else None
        if needs is not None and kind != needs:
            raise ValueError(f"loss {loss} needs discriminator {needs!r}: set both, then reset")
        return kind

    @field_validator("pack", "minibatch_stddev")
    @classmethod
    def _batch_variant_fits(cls, value: int | bool, info: ValidationInfo) -> int | bool:
        if (value == 1) if info.field_name == "pack" else not value:  # off
            return value
        what = f"{info.field_name} = {value}"
        if info.data.get("dataset") == "dirac":
            raise ValueError(f"{what}: the Dirac-GAN's D is psi * x; not with dataset dirac")
        if info.data.get("discriminator") == "autoencoder":
            raise ValueError(f"{what}: not with the autoencoder discriminator (ebgan)")
        loss = info.data.get("loss")
        if loss in LOSSES and LOSSES.get(loss).g_on_features:
            raise ValueError(f"{what}: not with {loss}, whose G matches features per sample")
        if info.field_name == "minibatch_stddev" and info.data.get("pack", 1) > 1:
            raise ValueError(f"{what}: one at a time, with pack = 1 (or minibatch stddev off)")
        batch = info.data.get("batch_size")
        if info.field_name == "pack" and batch is not None and batch % value:
            raise ValueError(f"{what}: batch_size ({batch}) must be a multiple of pack")
        return value

    @field_validator("g_output", "g_norm", "d_norm")
    @classmethod
    def _needs_an_mlp(cls, value: str, info: ValidationInfo) -> str:
        """The Dirac-GAN's G is a point and its D is psi * x: no layers to change."""
        if value not in ("linear", "none") and info.data.get("dataset") == "dirac":
            raise ValueError(
                f"{info.field_name} = {value}: the Dirac-GAN has no layers (G is a point, "
                "D is psi * x); set it back or choose another dataset"
            )
        hidden = {"g_norm": "g_hidden", "d_norm": "d_hidden"}.get(info.field_name)
        if value != "none" and hidden and info.data.get(hidden) == []:
            raise ValueError(
                f"{info.field_name} = {value} goes after each hidden layer, and {hidden} is "
                f"empty; add a hidden layer or set {info.field_name} to none"
            )
        return value

    @field_validator("g_norm")
    @classmethod
    def _g_batch_norm_fits(cls, norm: str, info: ValidationInfo) -> str:
        if norm == "batch" and info.data.get("batch_size", 2) < 2:
            raise ValueError("g_norm = batch normalises over the batch: batch_size must be >= 2")
        return norm

    @field_validator("d_norm")
    @classmethod
    def _batch_norm_fits(cls, norm: str, info: ValidationInfo) -> str:
        """Batch norm in D: a score depends on the rest of its batch, so D scores real and
        fake batches apart (as the DCGAN recipe does), and a per-sample gradient penalty is
        refused unless allow_batch_norm_penalty is set."""
        if norm != "batch":
            return norm
        if info.data.get("batch_size", 2) < 2:
            raise ValueError("d_norm = batch normalises over the batch: batch_size must be >= 2")
        if info.data.get("pack", 1) > 1 or info.data.get("minibatch_stddev"):
            raise ValueError(
                "d_norm = batch: one batch-dependent D at a time; set pack to 1 and "
                "minibatch_stddev off, or choose d_norm layer"
            )
        if info.data.get("discriminator") == "autoencoder":
            raise ValueError("d_norm = batch: not with the autoencoder discriminator (ebgan)")
        if info.data.get("unroll_steps"):
            raise ValueError(
                "d_norm = batch: unrolling looks ahead with D in eval mode (running statistics), "
                "another D than the one G trains against; set unroll_steps to 0 or choose "
                "d_norm layer"
            )
        if info.data.get("allow_batch_norm_penalty"):
            return norm
        for i, reg in enumerate(info.data.get("regularizers") or []):
            if reg.kind in PER_SAMPLE_PENALTIES:
                raise ValueError(
                    f"d_norm = batch with {reg.kind} (regularizers.{i}): the penalty needs each "
                    "sample's gradient grad_x D(x_i), and with batch norm every sample's score "
                    "depends on the whole batch (why Gulrajani et al. 2017 use layer norm in "
                    "the critic); choose d_norm layer or none, remove the penalty, or set "
                    "allow_batch_norm_penalty to see what happens"
                )
        return norm

    @field_validator("label_noise")
    @classmethod
    def _loss_has_labels(cls, noise: float, info: ValidationInfo) -> float:
        loss = info.data.get("loss")
        if noise and loss in LOSSES and LOSSES.get(loss).label_loss is None:
            labelled = ", ".join(spec.name for spec in LOSSES if spec.label_loss is not None)
            raise ValueError(
                f"label_noise flips the real/fake labels of D's loss, and loss {loss!r} has "
                f"none; use a loss with labels ({labelled}) or set label_noise to 0"
            )
        return noise

    @field_validator("regularizers")
    @classmethod
    def _fit_the_loss(
        cls, regularizers: list[RegularizerConfig], info: ValidationInfo
    ) -> list[RegularizerConfig]:
        """Regularizers that need a logistic loss (label smoothing) with one: a loss whose
        D is trained by binary cross-entropy on labels (its ``label_loss`` is ``bce``). Not
        every loss that shows a probability is one: fgan_reverse_kl's logit is log(p_r/p_g)
        at the optimum, but it is trained by exp(-D) and D, with no label to smooth."""
        loss = info.data.get("loss")  # absent when the loss itself was refused
        if loss is None or LOSSES.get(loss).label_loss is bce:
            return regularizers
        for i, reg in enumerate(regularizers):
            if REGULARIZERS.get(reg.kind).logistic_only:
                logistic = ", ".join(spec.name for spec in LOSSES if spec.label_loss is bce)
                raise ValueError(
                    f"{reg.kind} (regularizers.{i}) sets the BCE target of a logistic D, and "
                    f"loss {loss!r} has none (with wgan or rsgan it would drive D without "
                    f"bound); use a logistic loss ({logistic}) or remove {reg.kind}"
                )
        return regularizers

    @property
    def dim(self) -> int:
        """1 for the 1D targets (dirac included), 2 for the others."""
        return 1 if self.dataset in DATASETS_1D else 2


class ConfigError(ValueError):
    """A config or patch that cannot be applied; ``field`` names the offending option."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def nested_error(loc: tuple[str, ...], message: str, value: Any) -> ValidationError:
    """A validation error at ``loc``, a path inside the model being validated: a validator's
    own errors sit at the field or model it validates, this one names the field inside."""
    return ValidationError.from_exception_data(
        "TrainConfig",
        [InitErrorDetails(type=PydanticCustomError("value_error", message), loc=loc, input=value)],
    )


def first_error(error: ValidationError) -> ConfigError:
    """The first problem of a pydantic error, as a ConfigError naming a dotted field."""
    item = error.errors()[0]
    field = ".".join(str(part) for part in item["loc"]) or "config"
    message = item["msg"].removeprefix("Value error, ")
    if item["type"] == "extra_forbidden":
        message = "is not an option here"
    elif item["type"].endswith("_type"):  # the wrong JSON type: show what was sent
        shown = json.dumps(item["input"], default=str)
        message += f", got {shown if len(shown) <= 40 else shown[:39] + '…'}"
    return ConfigError(field, message)


def validate_config(data: Any) -> TrainConfig:
    """TrainConfig from a dict (or a TrainConfig), raising ConfigError on the first problem.

    Values are taken as the JSON types they are (strict): "64" is not an integer, true is
    not 1, 64.0 is not an integer. The one conversion: an integer where a number is expected
    (lr 1 is 1.0). Tuples may be given as lists (JSON has only arrays).
    """
    if isinstance(data, TrainConfig):
        return data
    try:
        text = json.dumps(data)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            "config", f"must be JSON data (objects, arrays, numbers): {error}"
        ) from None
    try:
        return TrainConfig.model_validate_json(text, strict=True)
    except ValidationError as error:
        raise first_error(error) from None


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge a patch into a config dict; lists (regularizers, widths) are replaced whole."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def apply_patch(config: TrainConfig, patch: dict[str, Any]) -> TrainConfig:
    """The config with a live patch applied; RESET_ONLY fields and a change of dimension
    raise ConfigError (they need a reset)."""
    if not isinstance(patch, dict):
        raise ConfigError("patch", "must be an object of config fields")
    new = validate_config(merge(config.model_dump(), patch))
    for field in RESET_ONLY:
        if getattr(new, field) != getattr(config, field):
            raise ConfigError(field, "changes the models; it applies on reset (send reset)")
    if new.dim != config.dim or (new.dataset == "dirac") != (config.dataset == "dirac"):
        raise ConfigError("dataset", f"{new.dataset} needs other models; it applies on reset")
    return new
