"""Version of mmsign."""
__version__ = '0.1.0'


def parse_version_info(version_str: str) -> tuple:
    """Split ``'0.1.0rc1'`` into ``(0, 1, 0, 'rc1')``."""
    parts = []
    for piece in version_str.split('.'):
        if piece.isdigit():
            parts.append(int(piece))
        else:
            digits = ''.join(ch for ch in piece if ch.isdigit())
            rest = piece[len(digits):]
            parts.extend([int(digits), rest] if digits else [rest])
    return tuple(parts)


version_info = parse_version_info(__version__)
