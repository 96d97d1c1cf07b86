"""Reference judges users would pick instead of canarywatch, for benchmarks/detection.py.

Both are written from their public documentation and code, and consume per-step metrics
(``metrics.StepMetrics``) computed from the same decoded events canarywatch sees.
"""
