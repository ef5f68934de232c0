"""Process-level pieces every layer may use: the host's device and memory settings (`host.py`), the
checkpoint file format (atomic writes, loading without unpickling code: `checkpoint.py`), atomic
writes of small text files (`files.py`), the seed streams of a run's random draws (`seeds.py`) and
the fault points the reliability tests kill a run at (`faults.py`). Imports nothing of slac's but
`slac.errors`."""
