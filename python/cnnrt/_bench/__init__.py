"""Timing, peer-runtime adapters and FLOP counts shared by `cnnrt bench` /
`cnnrt profile` / `cnnrt info` and the scripts in benchmarks/ (which import
these modules, so that both measure the same way).

The modules import nothing from cnnrt: runtimes.py runs as a script in the
peak-RSS child process of one runtime, which must load no other."""
