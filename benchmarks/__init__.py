"""Side-by-side benchmarks (`make bench`). Each `bench_<name>.py` module has a `main()` printing a table."""
