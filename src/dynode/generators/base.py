"""What dynode's generator classes share to satisfy :class:`dynode.types.Generator`."""

from __future__ import annotations

import torch

from dynode.types import GeneratorRecord


class GeneratorIdentity:
    """Mixin for an ``nn.Module`` generator with a ``w_avg`` buffer: the identity ``record`` that
    :func:`dynode.generators.load_generator` fills in (a generator built in memory has an empty
    one), and the mean code and device every stage asks for.
    """

    record: GeneratorRecord = GeneratorRecord()

    @property
    def mean_latent(self) -> torch.Tensor:
        """(w_dim,) the mean code."""
        return self.w_avg

    @property
    def device(self) -> torch.device:
        return self.w_avg.device
