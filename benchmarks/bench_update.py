"""Time SLAC's updates and a whole training iteration at the paper's sizes: `slac bench`.

    python benchmarks/bench_update.py [--precision fp32|bf16] [--threads 2] [--repeats 5] [key=value ...]

Prints a table to stderr and one JSON object as the last line of stdout (see slac/tools/bench.py).
"""

import sys

from slac.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
