"""A stand-in trainer for the TUI tests: prints its arguments, one line per epoch."""

import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, required=True)
parser.add_argument("--lr", type=float, required=True)
args = parser.parse_args()
for epoch in range(1, args.epochs + 1):
    print(f"epoch {epoch}/{args.epochs} lr={args.lr}", flush=True)
