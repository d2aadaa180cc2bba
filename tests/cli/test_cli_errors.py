"""``run_cli``: known failures are one line, Ctrl-C is status 130 even when a library has
wrapped it in an exception of its own (mmengine's config formatting does, during every
checkpoint save)."""
import pytest
from mmengine.config import Config

from mmsign.cli.command import caused_by_ctrl_c, run_cli


def ends(work, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(work, 'tools/x.py', debug=False)
    return exit_info.value.code, capsys.readouterr().err


def raise_from_ctrl_c(error):
    def work():
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise error  # noqa: B904  (implicit context, as mmengine raises it)
    return work


def test_known_failure_is_one_line(capsys):
    def work():
        raise ValueError('the vocabulary does not match')
    code, err = ends(work, capsys)
    assert code == 1 and err.startswith('tools/x.py: error: the vocabulary does not match')


def test_ctrl_c_plain_or_wrapped_is_status_130(capsys):
    def plain():
        raise KeyboardInterrupt
    for work in (plain, raise_from_ctrl_c(SyntaxError('Failed to format the config')),
                 raise_from_ctrl_c(ValueError('wrapped'))):
        code, err = ends(work, capsys)
        assert (code, err) == (130, 'tools/x.py: interrupted\n')


def test_an_unknown_failure_keeps_its_traceback():
    def work():
        raise SyntaxError('a real syntax error')
    with pytest.raises(SyntaxError, match='a real syntax error'):
        run_cli(work, 'tools/x.py', debug=False)


def test_mmengine_config_formatting_hides_ctrl_c_and_we_see_it(monkeypatch):
    import mmengine.config.config as config_module

    def ctrl_c_in_yapf(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(config_module, 'FormatCode', ctrl_c_in_yapf)
    with pytest.raises(SyntaxError) as error:
        Config(dict(a=1)).pretty_text  # noqa: B018  (what save_checkpoint calls)
    assert 'Failed to format the config file' in str(error.value)
    assert caused_by_ctrl_c(error.value)
    assert not caused_by_ctrl_c(SyntaxError('x'))
