//! Benchmarks only: see `benches/` and `examples/`.
