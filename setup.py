"""Packaging for mmsign."""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name: str) -> list:
    """Read ``requirements/<name>.txt`` without comments and blank lines."""
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


def read_version() -> str:
    namespace: dict = {}
    with open(osp.join(HERE, 'mmsign', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), namespace)
    return namespace['__version__']


with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
    long_description = f.read()

setup(
    name='mmsign',
    version=read_version(),
    description='OpenMMLab plugin for continuous sign language recognition',
    long_description=long_description,
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    # package_dir '' -> '.': `pip install -e .` writes a path entry (.pth) for the clone
    # instead of an import hook that runs after sys.path, so a folder named mmsign in the
    # working directory (the clone seen from its parent) cannot shadow the package.
    package_dir={'': '.'},
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    include_package_data=True,
    install_requires=read_requirements('runtime'),
    extras_require={
        # mmcv is not a hard requirement: users with full mmcv keep it (see docs).
        'mmcv-lite': read_requirements('mmcv'),
        'tests': read_requirements('tests'),
        'optional': read_requirements('optional'),
    },
    zip_safe=False,
)
