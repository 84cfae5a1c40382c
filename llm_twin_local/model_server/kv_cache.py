"""The running batch's KV cache: left-padded rows in buffers a decode step writes in place.

Kept apart from the engine because it subclasses transformers' cache classes, and the
engine module must import without transformers (the CLI and settings import it).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import Cache, DynamicLayer


class _GrowingLayer(DynamicLayer):
    """One layer's keys and values in buffers with spare columns; `keys`/`values` are views."""

    def __init__(self, key_buffer: torch.Tensor, value_buffer: torch.Tensor, length: int) -> None:
        super().__init__()
        self.device = key_buffer.device
        self.is_initialized = True
        self.key_buffer = key_buffer
        self.value_buffer = value_buffer
        self._set_length(length)

    def _set_length(self, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        self.length = length
        keys, values = self.key_buffer[:, :, :length], self.value_buffer[:, :, :length]
        self.keys, self.values = keys, values
        return keys, values

    def views(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(keys, values) of the cached columns; `keys`/`values` as never None."""
        return self.key_buffer[:, :, : self.length], self.value_buffer[:, :, : self.length]

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        end = self.length + key_states.shape[-2]
        if end > self.key_buffer.shape[-2]:
            self.resize(max(end, 2 * self.key_buffer.shape[-2]))
        self.key_buffer[:, :, self.length : end] = key_states
        self.value_buffer[:, :, self.length : end] = value_states
        return self._set_length(end)

    def resize(self, capacity: int) -> None:
        for name in ("key_buffer", "value_buffer"):
            old = getattr(self, name)
            new = old.new_empty((*old.shape[:2], capacity, old.shape[3]))
            new[:, :, : self.length] = old[:, :, : self.length]
            setattr(self, name, new)
        self._set_length(self.length)

    def get_seq_length(self) -> int:
        return self.length


CacheRows = tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]
"""Some rows of a KV cache: (keys, values) per layer, each (rows, heads, length, dim), and their mask."""


class BatchCache(Cache):
    """The running batch's KV cache and attention mask, left-padded, with room to grow.

    `DynamicCache` concatenates every layer's keys and values at each decode step, which
    copies the whole cache (into freshly faulted pages) once per token; at batch 16 that
    cost as much as the matrix work. Here a step writes one column in place and the model
    attends over views; the buffers are rebuilt only when sequences join or leave, or the
    spare columns run out.
    """

    def __init__(self, parts: list[CacheRows], spare: int) -> None:
        width = max(mask.shape[1] for _, mask in parts)
        capacity = width + spare
        rows = sum(mask.shape[0] for _, mask in parts)
        first_layers = parts[0][0]
        buffers = []
        for k, v in first_layers:
            shape = (rows, k.shape[1], capacity, k.shape[3])
            buffers.append((k.new_zeros(shape), v.new_zeros(shape)))
        # Columns past the cached ones belong to tokens that every row will feed.
        self.mask_buffer = parts[0][1].new_ones((rows, capacity))
        row = 0
        for layers, mask in parts:
            count, length = mask.shape
            pad = width - length
            for (key_buffer, value_buffer), (k, v) in zip(buffers, layers, strict=True):
                key_buffer[row : row + count, :, pad:width] = k
                value_buffer[row : row + count, :, pad:width] = v
            self.mask_buffer[row : row + count, :pad] = 0
            self.mask_buffer[row : row + count, pad:width] = mask
            row += count
        # Kept typed here too: transformers types `layers` as any of its layer kinds.
        self.growing = [_GrowingLayer(k, v, width) for k, v in buffers]
        super().__init__(layers=[*self.growing])

    @property
    def length(self) -> int:
        return self.growing[0].length

    @property
    def capacity(self) -> int:
        return self.mask_buffer.shape[1]

    @property
    def mask(self) -> torch.Tensor:
        """(batch, length) attention mask of the cached columns; zeros are left padding."""
        return self.mask_buffer[:, : self.length]

    def step_mask(self) -> torch.Tensor:
        """The attention mask of a decode step: the cached columns plus the token fed."""
        return self.mask_buffer[:, : self.length + 1]

    def as_rows(self) -> CacheRows:
        return [layer.views() for layer in self.growing], self.mask

    def select(self, index: torch.Tensor, spare: int) -> BatchCache:
        """A new cache of the rows in `index`, without the padding columns none of them needs."""
        mask = self.mask.index_select(0, index)
        start = int(mask.any(dim=0).long().argmax())
        layers = [
            (keys.index_select(0, index)[:, :, start:], values.index_select(0, index)[:, :, start:])
            for keys, values in (layer.views() for layer in self.growing)
        ]
        return BatchCache([(layers, mask[:, start:])], spare)

    def reserve(self, capacity: int) -> None:
        """Make room for `capacity` columns in all (one copy now instead of one per step)."""
        if capacity <= self.capacity:
            return
        for layer in self.growing:
            layer.resize(capacity)
        mask_buffer = self.mask_buffer.new_ones((self.mask_buffer.shape[0], capacity))
        mask_buffer[:, : self.length] = self.mask
        self.mask_buffer = mask_buffer
