"""Speed (bench.py) and quality (evaluate.py) benchmarks; see README.md."""
