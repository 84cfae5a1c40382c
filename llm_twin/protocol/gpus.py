"""Accelerators per SageMaker hosting instance type: a small, dated table.

Preflight compares a model's weights and KV cache with this memory, and SM_NUM_GPUS is
derived from the count when it is unset. The figures are AWS's own (GPU memory in GiB,
as the EC2 instance-type pages list it); AWS adds sizes now and then, so the table says
when it was last checked. An instance type missing here is not an error: the checks that
need it say they were skipped.

inf2 rows count Inferentia2 *chips* (2 NeuronCores, 32 GiB each), not GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass

TABLE_DATE = "2026-11-25"
"""When the table was last checked against AWS's instance-type pages."""
TABLE_SOURCE = "https://aws.amazon.com/ec2/instance-types/ (accelerated computing), per size"


@dataclass(frozen=True)
class InstanceGpus:
    """The accelerators one instance carries."""

    instance_type: str
    """The SageMaker name, e.g. ml.g5.2xlarge."""
    gpu_count: int
    """GPUs (or Inferentia2 chips) TGI can shard across; SM_NUM_GPUS at most this."""
    gpu_memory_gib: float
    """Memory of ONE accelerator, in GiB."""
    accelerator: str
    """What the accelerator is, e.g. 'NVIDIA A10G'."""

    @property
    def total_memory_gib(self) -> float:
        return self.gpu_count * self.gpu_memory_gib


def _family(family: str, accelerator: str, memory_gib: float, counts: dict[str, int]) -> list[InstanceGpus]:
    return [
        InstanceGpus(f"ml.{family}.{size}", count, memory_gib, accelerator) for size, count in counts.items()
    ]


_SINGLE_TO_EIGHT = {
    "xlarge": 1,
    "2xlarge": 1,
    "4xlarge": 1,
    "8xlarge": 1,
    "16xlarge": 1,
    "12xlarge": 4,
    "24xlarge": 4,
    "48xlarge": 8,
}

GPU_TABLE: dict[str, InstanceGpus] = {
    row.instance_type: row
    for row in [
        *_family("g5", "NVIDIA A10G", 24, _SINGLE_TO_EIGHT),
        *_family("g6", "NVIDIA L4", 24, _SINGLE_TO_EIGHT),
        *_family("g6e", "NVIDIA L40S", 48, _SINGLE_TO_EIGHT),
        *_family("p4d", "NVIDIA A100 40GB", 40, {"24xlarge": 8}),
        *_family("p4de", "NVIDIA A100 80GB", 80, {"24xlarge": 8}),
        *_family("p5", "NVIDIA H100", 80, {"48xlarge": 8}),
        *_family("p5e", "NVIDIA H200", 141, {"48xlarge": 8}),
        *_family("p5en", "NVIDIA H200", 141, {"48xlarge": 8}),
        *_family("inf2", "AWS Inferentia2", 32, {"xlarge": 1, "8xlarge": 1, "24xlarge": 6, "48xlarge": 12}),
    ]
}


def gpus_of(instance_type: str) -> InstanceGpus | None:
    """The instance type's row, or None when the table does not know it."""
    return GPU_TABLE.get(instance_type)


def sm_num_gpus(instance_type: str, configured: int | None) -> int:
    """SM_NUM_GPUS for the container: the setting when given, else every GPU of the instance.

    TGI shards across SM_NUM_GPUS devices; more than the instance has crashes the container,
    fewer leaves GPUs idle. Unknown types (CPU ones) get 1, TGI's own default. Inferentia2
    counts above 8 are capped to 8, the limit the container variable accepts.
    """
    if configured is not None:
        return configured
    row = gpus_of(instance_type)
    return min(row.gpu_count, 8) if row is not None else 1


def smallest_fitting(needed_gib: float) -> InstanceGpus | None:
    """The NVIDIA instance type with the least total GPU memory that still holds `needed_gib`."""
    candidates = [
        row
        for row in GPU_TABLE.values()
        if row.total_memory_gib >= needed_gib and not row.accelerator.startswith("AWS")
    ]
    return min(candidates, key=lambda row: (row.total_memory_gib, row.gpu_count), default=None)
