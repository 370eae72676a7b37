"""kvae's benchmarks: `python -m bench` runs the performance suite (bench/run.py)."""
