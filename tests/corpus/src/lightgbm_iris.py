"""Never runs locally: its environment needs the conda package lightgbm."""
import argparse

import lightgbm

parser = argparse.ArgumentParser()
parser.add_argument("--iris-csv", required=True)
parser.add_argument("--num-boost-round", type=int, default=10)
parser.add_argument("--boosting", default="gbdt")
parser.add_argument("--num-iterations", type=int, default=16)
parser.add_argument("--learning-rate", type=float, default=0.1)
print(lightgbm.__version__, parser.parse_args())
