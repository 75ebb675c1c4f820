"""The child process of payloads.look_all: look() at the (path, digest, kind) it is given (pickled on its
standard input), the Payloads — or each file's LoadError — pickled on its standard output."""
import pickle
import sys

from kpi.load.payloads import look_or_error

if __name__ == "__main__":
    files = pickle.loads(sys.stdin.buffer.read())
    sys.stdout.buffer.write(pickle.dumps([look_or_error(f) for f in files]))
