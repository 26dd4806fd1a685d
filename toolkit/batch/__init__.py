"""Store-scale scanning: the result cache, the isolated local worker pool and the Dask cluster runner.

`toolkit.pipeline.run_batch` / `analyse_inputs` drive these; every runner executes the same per-APK function,
`toolkit.batch.task.analyse_task`.
"""

from toolkit.batch.cache import CacheError, CacheKey, CacheStats, ResultCache, default_cache_path
from toolkit.batch.cluster import ClusterError, run_on_cluster
from toolkit.batch.local import LocalPool, PoolError, auto_memory_limit, parse_size
from toolkit.batch.task import ApkTask, TaskOutcome, analyse_task

__all__ = [
    "ApkTask",
    "CacheError",
    "CacheKey",
    "CacheStats",
    "ClusterError",
    "LocalPool",
    "PoolError",
    "ResultCache",
    "TaskOutcome",
    "analyse_task",
    "auto_memory_limit",
    "default_cache_path",
    "parse_size",
    "run_on_cluster",
]
