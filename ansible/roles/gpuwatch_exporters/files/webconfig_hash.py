"""Prints a bcrypt hash for the password read from stdin: the one already in the web config file
(argv[1]) for user argv[2] when it still matches, so that a rerun changes nothing; else a new one
with cost argv[3]. Runs with the gpuwatch venv's Python (bcrypt is a gpuwatch dependency)."""

import sys

import bcrypt
import yaml


def main():
    path, user, cost = sys.argv[1], sys.argv[2], int(sys.argv[3])
    password = sys.stdin.buffer.read().rstrip(b"\n")
    if not password:
        sys.exit("empty password on stdin")
    try:
        with open(path) as f:
            current = ((yaml.safe_load(f) or {}).get("basic_auth_users") or {}).get(user)
    except OSError:
        current = None
    if current and bcrypt.checkpw(password, current.encode()):
        print(current)
    else:
        print(bcrypt.hashpw(password, bcrypt.gensalt(rounds=cost)).decode())


if __name__ == "__main__":
    main()
