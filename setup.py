from setuptools import find_packages, setup

setup(
    name="technic",
    version="0.1.0",
    description="The daily US stock scan as partitioned Dagster assets in DuckDB",
    packages=find_packages(exclude=["technic_assets_tests", "benchmarks"]),
    python_requires=">=3.10",
    install_requires=[
        "dagster>=1.13,<1.14",
        "dagster-webserver>=1.13,<1.14",
        "dagster-duckdb-pandas>=0.29,<0.30",
        "dagster-duckdb>=0.29,<0.30",
        "dagster-postgres>=0.29,<0.30",
        "duckdb>=1.1",
        "pandas>=2.2,<3",
        "numpy>=1.26",
        "scipy>=1.11",
        "pyarrow>=15",
        "requests>=2.31",
        "orjson>=3.9",
        "xgboost>=2.0",
        "redis>=5",
        "ta-lib>=0.6.4",
        "exchange-calendars>=4.5",
    ],
    extras_require={"dev": ["pytest>=8"]},
    entry_points={"console_scripts": ["technic=technic_assets.cli:main"]},
)
