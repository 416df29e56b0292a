"""The coordinate chart of a trajectory: codes <-> normalised coordinates on the video's own subspace."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Chart:
    """z = ((w - mean) @ basis.T) / scale; the part of a code outside the subspace is its residual.

    Attributes:
        mean: (D,) mean of the video's flattened codes. basis: (k, D) orthonormal rows, or None
            for the full space. scale: the coordinates' spread. latent_shape: (num_ws, w_dim).
        shared: the basis is shared across videos (a motion prior's), so a video's residual holds
            most of its codes' motion; a video's own top components leave only the least of it.
    """

    mean: torch.Tensor
    basis: torch.Tensor | None
    scale: float
    latent_shape: tuple[int, int]
    shared: bool = False

    @classmethod
    def of(cls, latents: torch.Tensor, dim: int) -> "Chart":
        """The chart of codes (T, num_ws, w_dim): their top ``dim`` principal components (0: the
        full space, no projection), scaled to unit spread."""
        x = latents.reshape(len(latents), -1).float()
        mean = x.mean(0)
        basis = None
        coords = x - mean
        if dim:
            k = min(dim, len(x) - 1, x.shape[1])
            basis = torch.linalg.svd(coords, full_matrices=False).Vh[:max(k, 1)].contiguous()
            coords = coords @ basis.T
        return cls(mean, basis, float(coords.std().clamp(min=1e-6)), tuple(latents.shape[1:]))

    @property
    def dim(self) -> int:
        return len(self.mean) if self.basis is None else len(self.basis)

    def encode(self, w: torch.Tensor) -> torch.Tensor:
        """Codes (N, num_ws, w_dim) or (N, D) -> coordinates (N, k)."""
        x = w.reshape(w.shape[0], -1).float() - self.mean
        if self.basis is not None:
            x = x @ self.basis.T
        return x / self.scale

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Coordinates (N, k) -> codes (N, num_ws, w_dim) (inside the subspace: no residual)."""
        x = z * self.scale
        if self.basis is not None:
            x = x @ self.basis
        return (x + self.mean).reshape(z.shape[0], *self.latent_shape)

    def residual(self, w: torch.Tensor) -> torch.Tensor:
        """The part of codes (N, num_ws, w_dim) outside the subspace (zero for the full space)."""
        return w.float() - self.decode(self.encode(w))
