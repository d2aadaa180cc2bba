"""Packages import downward only, checked on the source (rerun it: ``python
tests/test_layering.py`` prints every violation):

- mmsign/models imports nothing from mmsign.engine;
- mmsign/utils imports no other mmsign package;
- mmsign/apis (what users call) imports nothing from mmsign.cli (the tools' plumbing);
- no private ``_name`` is imported from another module (``from mmsign.x import _y``, or
  relative);
- no file in mmsign/ is over 400 lines.
"""
import ast
import os.path as osp
import pathlib
from typing import List, Set, Tuple

ROOT = pathlib.Path(osp.dirname(osp.dirname(osp.abspath(__file__)))) / 'mmsign'
MAX_LINES = 400


def imports(path: pathlib.Path, root: pathlib.Path) -> List[Tuple[str, List[str]]]:
    """``(absolute module, imported names)`` of every import of a file under ``root``
    (the ``mmsign`` folder)."""
    package = ['mmsign', *path.relative_to(root).parts[:-1]]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = '.'.join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ''
            found.append((module, [alias.name for alias in node.names]))
    return found


def violations(root: pathlib.Path = ROOT) -> Set[Tuple[str, str, str]]:
    """``(rule, file relative to mmsign/, what)`` for every violation under ``root``."""
    found = set()
    for path in sorted(root.rglob('*.py')):
        name = path.relative_to(root).as_posix()
        top = name.split('/')[0] if '/' in name else None
        own_module = '.'.join(('mmsign', *path.relative_to(root).with_suffix('').parts))
        if len(path.read_text(encoding='utf-8').splitlines()) > MAX_LINES:
            found.add(('lines', name, f'over {MAX_LINES} lines'))
        for module, names in imports(path, root):
            parts = module.split('.')
            if parts[0] != 'mmsign':
                continue
            target = parts[1] if len(parts) > 1 else ''
            if top == 'models' and target == 'engine':
                found.add(('models', name, module))
            if top == 'utils' and target != 'utils':
                found.add(('utils', name, module))
            if top == 'apis' and target == 'cli':
                found.add(('apis', name, module))
            private = [n for n in names if n.startswith('_') and not n.startswith('__')]
            if private and module != own_module:
                found.add(('private', name, f'{module}: {", ".join(private)}'))
    return found


def test_packages_import_downward_only():
    new = violations()
    assert not new, '\n'.join(f'{rule}: {name}: {what}' for rule, name, what in sorted(new))


def test_the_scan_finds_what_it_looks_for(tmp_path):
    (tmp_path / 'models').mkdir()
    (tmp_path / 'utils').mkdir()
    (tmp_path / 'apis').mkdir()
    (tmp_path / 'apis' / 'd.py').write_text('from mmsign.cli.runtime import load_config\n')
    (tmp_path / 'models' / 'a.py').write_text('from mmsign.engine.x import y\n'
                                              'from .b import _hidden\n')
    (tmp_path / 'utils' / 'c.py').write_text('import mmsign.datasets\n' + 'x = 1\n' * 401)
    (tmp_path / 'models' / 'b.py').write_text('from .a import y\n')  # fine
    found = {(rule, name) for rule, name, _ in violations(tmp_path)}
    assert found == {('models', 'models/a.py'), ('private', 'models/a.py'),
                     ('utils', 'utils/c.py'), ('lines', 'utils/c.py'), ('apis', 'apis/d.py')}


if __name__ == '__main__':
    for rule, name, what in sorted(violations()):
        print(f'{rule}: mmsign/{name}: {what}')
