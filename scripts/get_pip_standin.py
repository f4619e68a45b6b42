"""Stand-in for the pip bootstrap script that ansible-test would download.

ansible-test creates pip-less virtual environments for some sanity tests and bootstraps pip
with a script it fetches from a host this project's machines cannot reach. It runs the script
as ``python <script> [pip options] pip==X ...``. This stand-in does the same job with what is
reachable: the interpreter's bundled pip (ensurepip), then the requested packages from the
package index. scripts/bootstrap.sh puts it where ansible-test looks for its cached copy.
"""

import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
options = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", *options])
