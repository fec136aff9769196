"""A small stand-in for the example's main.py: an SVM on the Iris CSV."""
import argparse
import csv

from sklearn.svm import SVC

parser = argparse.ArgumentParser()
parser.add_argument("--iris-csv", required=True)
parser.add_argument("--C", type=float, default=1.0)
parser.add_argument("--kernel", default="rbf")
parser.add_argument("--coef0", type=float, default=0.0)
args = parser.parse_args()
with open(args.iris_csv) as f:
    rows = list(csv.reader(f))[1:]
X = [[float(v) for v in row[:4]] for row in rows]
y = [row[4] for row in rows]
model = SVC(C=args.C, kernel=args.kernel, coef0=args.coef0).fit(X, y)
print(f"training accuracy: {model.score(X, y):.2f}")
