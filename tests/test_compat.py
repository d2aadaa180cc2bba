"""Upstream packaging workarounds in mmsign.compat, each checked in a fresh interpreter."""
import os
import subprocess
import sys
import textwrap

import pytest

COMPAT_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           'mmsign', 'compat.py')


def run_python(code: str, extra_path: str = '') -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if extra_path:
        env['PYTHONPATH'] = extra_path + os.pathsep + env.get('PYTHONPATH', '')
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=900)


def test_mmaction_models_fails_without_mmsign():
    # Proves the workaround is still needed with the pinned mmaction2.
    result = run_python('import mmaction.models')
    assert result.returncode != 0
    assert 'mmaction.models.localizers.drn' in result.stderr


def test_mmaction_models_imports_after_mmsign():
    result = run_python("""
        import mmsign
        import mmaction.models
        from mmaction.registry import MODELS
        assert MODELS.get('Recognizer3D') is not None
        print('ok')
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith('ok')


def test_custom_imports_in_stock_mmaction_config(tmp_path):
    config = tmp_path / 'stock.py'
    config.write_text("custom_imports = dict(imports=['mmsign'], allow_failed_imports=False)\n"
                      "default_scope = 'mmaction'\n"
                      "model = dict(type='Recognizer2D', backbone=dict(type='ResNet', "
                      "depth=18, pretrained=None))\n")
    result = run_python(f"""
        from mmengine.config import Config
        cfg = Config.fromfile({str(config)!r})
        from mmaction.utils import register_all_modules
        register_all_modules(init_default_scope=True)
        import mmaction.models
        from mmaction.registry import MODELS
        model = MODELS.build(cfg.model)
        print(type(model).__name__)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith('Recognizer2D')


@pytest.fixture
def transformers5(tmp_path):
    """A stand-in ``transformers`` 5.x distribution without ``apply_chunking_to_forward``."""
    package = tmp_path / 'transformers'
    package.mkdir()
    (package / '__init__.py').write_text("__version__ = '5.17.0'\n")
    (package / 'modeling_utils.py').write_text('class PreTrainedModel:\n    pass\n')
    info = tmp_path / 'transformers-5.17.0.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text('Metadata-Version: 2.1\nName: transformers\n'
                                   'Version: 5.17.0\n')
    return str(tmp_path)


def test_transformers5_breaks_mmaction_without_fix(transformers5):
    # Load compat.py alone so that ``import mmsign`` does not apply every fix.
    result = run_python(f"""
        import importlib.util
        spec = importlib.util.spec_from_file_location('compat_alone', {COMPAT_FILE!r})
        compat = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(compat)
        compat.install_drn_stand_in()
        import mmaction.models
    """, extra_path=transformers5)
    # mmaction goes for its multimodal models and fails inside them.
    assert result.returncode != 0
    assert 'mmaction/models/multimodal' in result.stderr


def test_transformers5_handled_by_mmsign(transformers5):
    result = run_python("""
        import mmsign
        import mmaction.models
        from mmaction.utils import dependency
        from mmsign.compat import transformers_lacks_chunking
        assert transformers_lacks_chunking()
        print(dependency.WITH_MULTIMODAL)
    """, extra_path=transformers5)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith('False')


def test_missing_mmcv_message(tmp_path):
    # A package named mmcv that cannot be found: hide it with a meta path finder.
    result = run_python("""
        import sys, importlib.abc
        class Hide(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == 'mmcv' or name.startswith('mmcv.'):
                    raise ModuleNotFoundError(name)
        sys.meta_path.insert(0, Hide())
        import mmsign
    """)
    assert result.returncode != 0
    assert 'mmcv-lite' in result.stderr
