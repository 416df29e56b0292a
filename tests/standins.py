"""Stand-in StyleGAN2 checkpoints in the two formats dynode converts, written from a dynode generator key
for key: rosinality's ``.pt`` and NVlabs' pickle (whose modules the ``nvlabs_modules`` fixture of
conftest stands in for)."""

import argparse
import pickle
import sys
from collections import OrderedDict

import torch


def blur_kernels(g) -> dict:
    k = torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1]))
    k = k / k.sum() * 4  # rosinality's make_kernel(...) * factor**2
    out = {}
    for i in range(len(g.to_rgbs)):
        out[f"convs.{2 * i}.conv.blur.kernel"] = k
        out[f"to_rgbs.{i}.upsample.kernel"] = k
    return out


class Persistent:
    """Pickles like an NVlabs persistent-class instance: the class as source code plus its __dict__."""

    def __init__(self, class_name, params=None, buffers=None, modules=None, init_kwargs=None, attrs=None):
        self.meta = {"type": "class", "version": 4, "class_name": class_name,
                     "module_src": "raise RuntimeError('the source code in the pickle was executed')",
                     "state": {"training": False, "_parameters": OrderedDict(params or {}),
                               "_buffers": OrderedDict(buffers or {}), "_modules": OrderedDict(modules or {}),
                               "_init_args": (), "_init_kwargs": init_kwargs or {}, **(attrs or {})}}

    def __reduce__(self):
        return sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj, (self.meta,)


def nvlabs_generator(g, mapping_kwargs=True) -> Persistent:
    """NVlabs' G_ema layout for a dynode generator, written from NVlabs' names, each module's state
    holding what NVlabs' layers hold: numpy float64 gains, ``conv_clamp``, fp16 flags, lr multiplier."""
    import numpy as np
    P = torch.nn.Parameter
    sd = g.state_dict()
    f = torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1]))
    f = f / f.sum()
    clamp = g.config.conv_clamp

    def fc(prefix, lr=1.0):
        w = sd[f"{prefix}.weight"]
        return Persistent("FullyConnectedLayer", {"weight": P(w), "bias": P(sd[f"{prefix}.bias"])},
                           attrs={"in_features": w.shape[1], "out_features": w.shape[0], "activation": "lrelu",
                                  "weight_gain": np.float64(lr / np.sqrt(w.shape[1])), "bias_gain": lr})

    def layer(ros, noise, res):
        return Persistent("SynthesisLayer", {"weight": P(sd[f"{ros}.conv.weight"][0]), "bias": P(sd[f"{ros}.activate.bias"]),
                                              "noise_strength": P(sd[f"{ros}.noise.weight"][0])},
                           {"noise_const": sd[f"noises.noise_{noise}"][0, 0], "resample_filter": f},
                           {"affine": fc(f"{ros}.conv.modulation")},
                           attrs={"resolution": res, "activation": "lrelu", "conv_clamp": clamp,
                                  "act_gain": np.float64(np.sqrt(2)), "padding": 1})

    def torgb(ros):
        w = sd[f"{ros}.conv.weight"][0]
        return Persistent("ToRGBLayer", {"weight": P(w), "bias": P(sd[f"{ros}.bias"].flatten())},
                           modules={"affine": fc(f"{ros}.conv.modulation")},
                           attrs={"conv_clamp": clamp, "weight_gain": np.float64(1 / np.sqrt(w.shape[1]))})

    def block(res, params=None, modules=None):  # the top two resolutions run in fp16 in NVlabs' configs
        return Persistent("SynthesisBlock", params, {"resample_filter": f}, modules,
                           attrs={"resolution": res, "use_fp16": res >= g.resolution // 2, "conv_clamp": clamp})

    blocks = {"b4": block(4, {"const": P(sd["input.input"][0])}, {"conv1": layer("conv1", 0, 4), "torgb": torgb("to_rgb1")})}
    for i in range(len(g.to_rgbs)):
        res = 2 ** (i + 3)
        blocks[f"b{res}"] = block(res, modules={"conv0": layer(f"convs.{2 * i}", 2 * i + 1, res),
                                                "conv1": layer(f"convs.{2 * i + 1}", 2 * i + 2, res),
                                                "torgb": torgb(f"to_rgbs.{i}")})
    mapping = Persistent("MappingNetwork", buffers={"w_avg": sd["w_avg"]},
                          modules={f"fc{i}": fc(f"style.{i + 1}", g.config.lr_mlp) for i in range(g.config.n_mlp)},
                          attrs={"w_avg_beta": 0.995, "num_ws": g.num_ws})
    kwargs = {"z_dim": g.w_dim, "w_dim": g.w_dim, "c_dim": 0, "img_resolution": g.resolution,
              "synthesis_kwargs": {"conv_clamp": clamp, "num_fp16_res": 2}}
    if mapping_kwargs:
        kwargs["mapping_kwargs"] = {"lr_multiplier": g.config.lr_mlp}
    return Persistent("Generator", modules={"mapping": mapping, "synthesis": Persistent("SynthesisNetwork",
                                                                                          modules=blocks)},
                       init_kwargs=kwargs)




def write_rosinality(g, path) -> None:
    """``g`` saved as stylegan2-pytorch (rosinality) saves a training checkpoint."""
    state = {k: v for k, v in g.state_dict().items() if k != "w_avg"} | blur_kernels(g)
    torch.save({"g": state, "d": {"convs.0.0.weight": torch.randn(4, 3, 1, 1)}, "g_ema": state,
                "g_optim": {"state": {}, "param_groups": [{"lr": 0.002, "betas": (0.0, 0.99)}]},
                "args": argparse.Namespace(size=g.resolution, latent=g.w_dim, n_mlp=g.config.n_mlp,
                                           channel_multiplier=2), "latent_avg": g.w_avg}, path)


def write_nvlabs(g, path, **extra) -> None:
    """``g`` pickled as NVlabs' StyleGAN2-ADA network snapshot (needs the ``nvlabs_modules`` fixture)."""
    data = {"G": nvlabs_generator(g), "D": Persistent("Discriminator"), "G_ema": nvlabs_generator(g),
            "augment_pipe": None, **extra}
    with open(path, "wb") as f:
        pickle.dump(data, f)
