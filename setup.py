"""pers_rec: learn one listener's taste from audio and rank their library."""

import re
from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
version = re.search(r'__version__ = "([^"]+)"', (here / "pers_rec" / "__init__.py").read_text()).group(1)

setup(
    name="pers_rec",
    version=version,
    description="Learn one listener's taste from the audio itself (time-only CNN + LSTM) and rank their music library",
    long_description=(here / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.11",
    packages=find_packages(include=["pers_rec", "pers_rec.*", "synth", "synth.*"]),  # experiments/ are scripts of the repo
    package_data={"pers_rec": ["data/encoder.npz", "data/encoder.json", "web/static/*"]},  # the shipped encoder and its provenance
    install_requires=[
        "tensorflow>=2.16",  # default Keras backend (Keras 3 needs TF >= 2.16)
        "keras>=3.11.3",  # the models (keras.ops only: TF, JAX, PyTorch); >= 3.11.3 closes known safe_mode bypasses
        "numpy>=1.26",
        "scipy>=1.11",  # DCT/filters in synth, signal utilities
        "librosa>=0.10.2",  # the baseline's deltas; the reference the features are tested against
        "soundfile>=0.12.1",  # libsndfile: WAV, FLAC, OGG, Opus, MP3 decoding and synth's writer
        "soxr>=0.3.7",  # high-quality streaming resampling
        "av>=12",  # FFmpeg (bundled in the wheels) for M4A/AAC/ALAC/WMA and anything libsndfile lacks
        "pandas>=2.0",  # metadata tables, ranking CSVs
        "matplotlib>=3.7",  # training curves, explain plots, experiment figures
        "scikit-learn>=1.3",  # stratified k-fold, ROC-AUC/AP, the logistic-regression baseline
        "tqdm>=4.66",  # progress bars
        "threadpoolctl>=3.1",  # one BLAS thread per decoding worker (no oversubscription)
        "requests>=2.31",  # the Subsonic client (pers-rec likes subsonic, rank --to-subsonic), with urllib3's retries
        "mutagen>=1.46",  # artist/album tags (folds grouped by album or artist), never writes into audio files
        "h5py>=3.10",  # the light runtime reads a model's weights from its .keras archive without Keras
    ],
    extras_require={
        "gpu": ["tensorflow[and-cuda]>=2.16"],
        "mpd": ["python-mpd2>=3.1"],  # pers-rec likes mpd, rank --to-mpd, pers-rec radio
        "web": ["starlette>=0.40", "uvicorn>=0.30"],  # pers-rec serve (Range requests for seeking: starlette >= 0.40)
        "ray": ["ray[data]>=2.40"],  # --engine ray: Ray Data tasks and actor pools, Parquet out (pyarrow)
        "test": ["pytest>=8", "pytest-xdist>=3.5", "ruff>=0.5", "jax[cpu]>=0.4.30", "python-mpd2>=3.1", "starlette>=0.40", "uvicorn>=0.30",
                 "playwright>=1.40"],  # drives Debian's chromium to test the map page (no browser download)
    },
    entry_points={"console_scripts": ["pers-rec=pers_rec.cli:run"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Multimedia :: Sound/Audio :: Analysis",
        "Intended Audience :: Science/Research",
    ],
)
