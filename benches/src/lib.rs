//! Support code shared by the criterion benchmarks in `benches/`.
