// Module Benchmarks.
