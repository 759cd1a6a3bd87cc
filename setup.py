"""Which packages the wheel installs, and from where; everything else is in pyproject.toml.

The service's source stays in the folder ``service/`` but installs as ``streamlabels_service``:
a top-level ``service`` package would collide with any other distribution's module of that name.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["streamlabels", "streamlabels.*"]),
        "streamlabels_service",
        *(f"streamlabels_service.{name}" for name in find_packages("service")),
    ],
    package_dir={"streamlabels_service": "service"},
)
