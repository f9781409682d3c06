"""Top entries of py-spy raw (collapsed) profiles: `python -m bench._profile FILE...`."""

import collections
import sys


def top(paths: list[str], count: int = 15) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(self, inclusive) shares of samples per function, largest first."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for path in paths:
        with open(path) as lines:
            raw = lines.read().splitlines()
        for line in raw:
            stack, _, samples = line.rstrip().rpartition(" ")
            if not stack:
                continue
            n = int(samples)
            frames = [
                f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1] + ")" if " (" in f else f
                for f in stack.split(";")
            ]
            total += n
            own[frames[-1]] += n
            for frame in set(frames):
                inclusive[frame] += n
    return (
        [(f, 100 * n / total) for f, n in own.most_common(count)],
        [(f, 100 * n / total) for f, n in inclusive.most_common(count * 3)],
    )


if __name__ == "__main__":
    own, inclusive = top(sys.argv[1:])
    print("self %:")
    for frame, share in own:
        print(f"  {share:5.1f}  {frame}")
    print("inclusive %:")
    for frame, share in inclusive:
        print(f"  {share:5.1f}  {frame}")
