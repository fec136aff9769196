"""A small stand-in for the example's main.py: ridge regression on sklearn's bundled diabetes data."""
import argparse

from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=1.0)
args = parser.parse_args()
X, y = load_diabetes(return_X_y=True)
print(f"r2: {Ridge(alpha=args.alpha).fit(X, y).score(X, y):.3f}")
