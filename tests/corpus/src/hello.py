import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--greeting", required=True)
parser.add_argument("--count", type=int)
args = parser.parse_args()
print(f"greeting: {args.greeting}")
print("no-count" if args.count is None else f"count: {args.count}")
