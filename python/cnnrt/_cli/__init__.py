"""The subcommands of `cnnrt` (python/cnnrt/cli.py): one module per command,
each with `register(subparsers)` (cheap: argparse only) and `main(args) -> int`
(imports what it needs). Exit codes: 0 done; 1 the command ran and found a
problem (`check`: outputs disagree; `info`: ops cnnrt cannot run); 2 it
could not do its job (unreadable or unsupported model, bad input, a missing
optional package)."""
