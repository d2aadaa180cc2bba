"""``import mmsign`` registers every module without loading the heavy libraries that only
some of them use (docs/benchmarks.md, start-up): they load when first used."""
import subprocess
import sys
import textwrap

#: Libraries that cost seconds of start-up and that registration does not need.
ON_FIRST_USE = ('open_clip', 'mmpretrain', 'matplotlib', 'decord', 'flashlight',
                'mmaction.models', 'mmsign.apis', 'mmsign.visualization', 'onnxruntime')


def loaded_after(code: str) -> set:
    probe = textwrap.dedent(code) + textwrap.dedent(f'''
        import sys
        print(sorted(m for m in {ON_FIRST_USE!r} if m in sys.modules))
    ''')
    done = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    return set(eval(done.stdout.strip().splitlines()[-1]))


def test_import_mmsign_loads_no_heavy_library():
    assert loaded_after('import mmsign') == set()


def test_building_a_backbone_loads_its_library():
    loaded = loaded_after('''
        import mmsign
        from mmaction.registry import MODELS
        from mmengine.registry import init_default_scope
        init_default_scope('mmaction')
        MODELS.build(dict(type='AdaptSignViT', arch=dict(width=32, layers=1, heads=2,
                          patch_size=16, image_size=32, output_dim=16)))
    ''')
    # (building through mmaction's registry imports mmaction.models, and mmpretrain with it)
    assert 'open_clip' in loaded
