# Runs /usr/bin/dnsviz with its arguments. Debian 12's DNSViz (0.9.4) checks the version
# of pygraphviz through `pygraphviz.release`, a module that its pygraphviz (1.7) no longer
# has, so `grok`, `graph` and `print` stop at "pygraphviz is required". This supplies it.
import sys
import types

import pygraphviz

release = types.ModuleType("pygraphviz.release")
release.version = pygraphviz.__version__
sys.modules["pygraphviz.release"] = release
pygraphviz.release = release
sys.argv[0] = "/usr/bin/dnsviz"
exec(compile(open(sys.argv[0]).read(), sys.argv[0], "exec"))
