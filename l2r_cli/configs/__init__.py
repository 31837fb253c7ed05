"""One module per training stage: its run config dataclasses and its ``StageSpec`` (the
registry entry the CLI, the run start-up, inference and ``l2r info`` read; see
``l2r_cli.engine.registry``). Torch-free: ``l2r --help`` imports every module here.
"""
