"""What dynode's generator classes share to satisfy :class:`dynode.types.Generator`."""

from __future__ import annotations

import torch


class GeneratorIdentity:
    """Mixin for an ``nn.Module`` generator with a ``w_avg`` buffer: the reload record (``name``,
    ``id``, ``delta``) that :func:`dynode.generators.load_generator` fills in, and the mean code
    and device every stage asks for. A generator built in memory has ``name`` and ``id`` "".
    """

    name: str = ""
    id: str = ""
    delta: dict | None = None

    @property
    def mean_latent(self) -> torch.Tensor:
        """(w_dim,) the mean code."""
        return self.w_avg

    @property
    def device(self) -> torch.device:
        return self.w_avg.device
