"""``python -m l2r_cli`` (also what ``torchrun -m l2r_cli`` runs)."""

from l2r_cli.cli import main

if __name__ == "__main__":
    main()
