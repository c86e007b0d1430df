"""What the tests of every tier (and ``bench/``) share: import it, never copy it.

- ``processes``: polling with a deadline, whether a pid or a group still runs, pid files, killing strays
- ``servers``: the local computer in a subprocess (``Subserver``: the CLI; ``ProcServer``: any settings)
- ``kernels``: a real ipykernel started by jupyter_client (``KernelProcess``; ``Kernel`` collects iopub)
- ``measure``: what a process holds (``Figures``) and its peak memory (``PeakRss``)
- ``answers``: the API's error shape, in raw HTTP and as the client's exceptions; raw requests
- ``markup``: the HTML the product may emit
- ``lab``: JupyterLab on loopback and a notebook driven through Playwright (also ``bench/_browser.py``)

Fixtures live in the ``conftest.py`` of the tier that uses them; this package holds plain code.
"""
