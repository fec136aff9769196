# A stand-in for azureml-examples cli/jobs/basics/src/hello-sweep.py: log the parameters and a metric.
import argparse
import random

import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--A", type=float)
parser.add_argument("--B", type=str)
parser.add_argument("--C", type=float)
args = parser.parse_args()
print(f"A: {args.A}\nB: {args.B}\nC: {args.C}")
with mlflow.start_run():
    mlflow.log_param("B", args.B)
    mlflow.log_metric("random_metric", random.random())
