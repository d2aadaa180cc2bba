"""Pictures of :class:`~.attention.VideoAttention`: heat maps over frames, per-frame
panels, a contact sheet, an animated GIF and an MP4.

Everything is drawn with NumPy, OpenCV and Pillow (matplotlib only for its colour maps),
so a few hundred frames take seconds.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import cv2
import matplotlib
import numpy as np
from mmengine.logging import print_log
from PIL import Image, ImageDraw, ImageFont

from mmsign.visualization.attention import VideoAttention

_BACKGROUND = (255, 255, 255)
_TEXT = (20, 20, 20)
_MUTED = (120, 120, 120)
_HIGHLIGHT = (255, 214, 10)
_POSITIVE = (40, 150, 60)
_NEGATIVE = (200, 50, 40)


def colorize(values: np.ndarray, cmap: str, vmin: float, vmax: float) -> np.ndarray:
    """``(h, w)`` values -> ``(h, w, 3)`` uint8 RGB through a matplotlib colour map."""
    scaled = np.clip((values - vmin) / max(vmax - vmin, 1e-12), 0.0, 1.0)
    return (matplotlib.colormaps[cmap](scaled)[..., :3] * 255).astype(np.uint8)


def overlay_heatmap(frame: np.ndarray, values: np.ndarray,
                    box: Tuple[float, float, float, float], cmap: str = 'jet',
                    vmin: float = 0.0, vmax: float = 1.0, alpha: float = 0.5,
                    interpolation: str = 'bilinear') -> np.ndarray:
    """Blend a patch-grid heat map over the part of a frame it covers.

    Pixels outside ``box`` (which the model did not see) are dimmed.

    Args:
        frame (np.ndarray): ``(H, W, 3)`` uint8 RGB.
        values (np.ndarray): ``(gh, gw)`` values, one per patch.
        box (tuple[float, float, float, float]): ``(x1, y1, x2, y2)`` in the frame's
            pixels the grid spans; it may extend beyond the frame.
        cmap (str): matplotlib colour map. Defaults to ``'jet'``.
        vmin (float): Value drawn with the map's first colour.
        vmax (float): Value drawn with its last colour.
        alpha (float): Weight of the heat map. Defaults to 0.5.
        interpolation (str): ``'bilinear'`` (smooth) or ``'nearest'`` (one block per
            patch). Defaults to ``'bilinear'``.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 RGB, the frame's size.
    """
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    flag = cv2.INTER_NEAREST if interpolation == 'nearest' else cv2.INTER_LINEAR
    heat = cv2.resize(values.astype(np.float32), (max(x2 - x1, 1), max(y2 - y1, 1)),
                      interpolation=flag)
    heat = colorize(heat, cmap, vmin, vmax).astype(np.float32)
    out = frame.astype(np.float32) * 0.45
    fx1, fy1, fx2, fy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
    if fx2 > fx1 and fy2 > fy1:
        seen = frame[fy1:fy2, fx1:fx2].astype(np.float32)
        part = heat[fy1 - y1:fy2 - y1, fx1 - x1:fx2 - x1]
        out[fy1:fy2, fx1:fx2] = seen * (1 - alpha) + part * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def attention_overlays(attention: VideoAttention, scale: str = 'video',
                       interpolation: str = 'bilinear') -> List[np.ndarray]:
    """The aggregation query's attention over every frame, at the frames' size.

    Args:
        attention (VideoAttention): From :func:`~.attention.video_attention`.
        scale (str): ``'video'`` (one colour scale for the whole video, 0 to its largest
            patch weight: frames can be compared) or ``'frame'`` (each frame 0 to its own
            largest weight).
        interpolation (str): See :func:`overlay_heatmap`.

    Returns:
        list[np.ndarray]: ``(H, W, 3)`` uint8 RGB images, one per frame.
    """
    maps = attention.patch_attention
    if scale not in ('video', 'frame'):
        raise ValueError(f"scale must be 'video' or 'frame', got {scale!r}")
    peak = float(maps.max())
    return [overlay_heatmap(frame, values, attention.model_box, 'jet', 0.0,
                            peak if scale == 'video' else float(values.max()),
                            interpolation=interpolation)
            for frame, values in zip(attention.frames, maps)]


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Nearest when enlarging (pixels stay visible), area when shrinking."""
    flag = cv2.INTER_NEAREST if width >= image.shape[1] else cv2.INTER_AREA
    return cv2.resize(image, (width, height), interpolation=flag)


def _fit_words(draw: ImageDraw.ImageDraw, words: Sequence[str], font: ImageFont.ImageFont,
               width: float) -> Tuple[List[str], bool]:
    """The last words that fit in ``width`` pixels, and whether some were dropped."""
    kept: List[str] = []
    for word in reversed(words):
        if draw.textlength(' '.join([word, *kept]) + ' ... ', font=font) > width and kept:
            return kept, True
        kept.insert(0, word)
    return kept, False


class PanelRenderer:
    """Draws one panel per frame: the heat map over the frame, the temporal gates towards
    its neighbours and the glosses recognised so far.

    Layout, top to bottom: a header (frame number, output step, the class token's
    share), the overlay enlarged to ``size`` pixels wide, one tile per temporal window
    position (the neighbour frame with its gate per patch: red where the frame's class
    token correlates with the patch, blue where it anti-correlates; the mean gate as a
    number and a bar), and the transcript so far with the gloss emitted at this frame's
    output step highlighted.

    Args:
        attention (VideoAttention): The video's maps.
        overlays (list[np.ndarray]): From :func:`attention_overlays`.
        size (int): Width of the panel in pixels. Defaults to 256.
    """

    def __init__(self, attention: VideoAttention, overlays: Sequence[np.ndarray],
                 size: int = 256) -> None:
        self.attention = attention
        self.overlays = overlays
        self.size = size
        height, width = attention.frames.shape[1:3]
        self.image_height = max(1, round(size * height / width))
        self.font = _font(max(9, size // 20))
        self.small = _font(max(8, size // 24))
        self.line = int(self.font.size * 1.35)
        gates = attention.temporal_gates
        self.window = 0 if gates is None else gates.shape[1]
        self.gate_peak = 0.0 if gates is None else max(float(np.abs(gates).max()), 1e-6)
        mean = attention.mean_temporal_gates()
        self.mean_peak = 0.0 if mean is None else max(float(np.abs(mean).max()), 1e-6)
        self.gap = max(2, size // 64)
        self.tile = (size - (self.window - 1) * self.gap) // max(self.window, 1)
        tile_height = round(self.tile * height / width)
        # title, offsets, tiles, mean gates, bars
        self.temporal_height = (0 if not self.window else
                                3 * self.line + tile_height + self.line // 2 + 2 * self.gap)
        self.height = (self.line + self.image_height + self.gap + self.temporal_height
                       + 2 * self.line + self.gap)

    def _centred(self, draw: ImageDraw.ImageDraw, left: int, top: int, text: str,
                 font: ImageFont.ImageFont) -> None:
        """Write ``text`` centred over a tile starting at ``left``."""
        x = left + (self.tile - draw.textlength(text, font=font)) / 2
        draw.text((x, top), text, fill=_TEXT, font=font)

    def _temporal(self, canvas: Image.Image, draw: ImageDraw.ImageDraw, frame: int,
                  top: int) -> None:
        attention = self.attention
        radius = self.window // 2
        draw.text((2, top), f'temporal gates, w_t = {attention.temporal_weight:+.3f}',
                  fill=_MUTED, font=self.small)
        top += self.line
        for j in range(self.window):
            label = f'{j - radius:+d}' if j != radius else 't'
            self._centred(draw, j * (self.tile + self.gap), top, label, self.small)
        top += self.line
        height, width = attention.frames.shape[1:3]
        tile_height = round(self.tile * height / width)
        means = attention.mean_temporal_gates()[frame]
        for j in range(self.window):
            left = j * (self.tile + self.gap)
            source = int(attention.temporal_sources[frame, j])
            if source < 0:
                draw.rectangle([left, top, left + self.tile - 1, top + tile_height - 1],
                               fill=(225, 225, 225))
                draw.text((left + 3, top + 2), 'zeros', fill=_MUTED, font=self.small)
            else:
                heat = overlay_heatmap(attention.frames[source],
                                       attention.temporal_gates[frame, j],
                                       attention.model_box, 'coolwarm', -self.gate_peak,
                                       self.gate_peak, alpha=0.6)
                canvas.paste(Image.fromarray(_resize(heat, self.tile, tile_height)),
                             (left, top))
            if j == radius:
                draw.rectangle([left, top, left + self.tile - 1, top + tile_height - 1],
                               outline=_TEXT)
            self._centred(draw, left, top + tile_height + 1, f'{means[j]:+.2f}', self.small)
            bar_top = top + tile_height + self.line + 1
            middle = left + self.tile // 2
            extent = round(means[j] / self.mean_peak * (self.tile // 2 - 1))
            draw.line([middle, bar_top, middle, bar_top + self.line // 2], fill=_MUTED)
            if extent:
                draw.rectangle([min(middle, middle + extent), bar_top + 1,
                                max(middle, middle + extent), bar_top + self.line // 2 - 1],
                               fill=_POSITIVE if extent > 0 else _NEGATIVE)

    def _glosses(self, draw: ImageDraw.ImageDraw, frame: int, top: int) -> None:
        attention = self.attention
        current = attention.emission_at(frame)
        said = [e for e in attention.emissions if e.frames.start <= frame]
        words, cut = _fit_words(draw, [e.gloss for e in said], self.font, self.size - 4)
        x = 2.0
        if cut:
            draw.text((x, top), '...', fill=_MUTED, font=self.font)
            x += draw.textlength('... ', font=self.font)
        for index, word in enumerate(words):
            is_new = current is not None and index == len(words) - 1
            length = draw.textlength(word, font=self.font)
            if is_new:
                draw.rectangle([x - 2, top, x + length + 2, top + self.line - 1],
                               fill=_HIGHLIGHT)
            draw.text((x, top), word, fill=_TEXT, font=self.font)
            x += length + draw.textlength(' ', font=self.font)
        if not said:
            draw.text((2, top), '(no gloss yet)', fill=_MUTED, font=self.font)
        steps = attention.num_steps
        step = min(frame // attention.frames_per_step, steps - 1)
        draw.text((2, top + self.line), f'output step {step + 1}/{steps}', fill=_MUTED,
                  font=self.small)

    def __call__(self, frame: int) -> np.ndarray:
        """The panel of frame ``frame``: ``(height, size, 3)`` uint8 RGB."""
        attention = self.attention
        canvas = Image.new('RGB', (self.size, self.height), _BACKGROUND)
        draw = ImageDraw.Draw(canvas)
        draw.text((2, 0), f'frame {frame + 1}/{attention.num_frames}  '
                  f'cls {attention.cls_share[frame]:.0%}', fill=_TEXT, font=self.font)
        top = self.line
        canvas.paste(Image.fromarray(_resize(self.overlays[frame], self.size,
                                             self.image_height)), (0, top))
        top += self.image_height + self.gap
        if self.window:
            self._temporal(canvas, draw, frame, top)
            top += self.temporal_height
        self._glosses(draw, frame, top)
        return np.asarray(canvas)


def contact_sheet(panels: Sequence[np.ndarray], columns: int = 8,
                  gap: int = 4) -> np.ndarray:
    """Tile equally sized panels row by row on a white sheet.

    Args:
        panels (Sequence[np.ndarray]): ``(h, w, 3)`` uint8 images of one size.
        columns (int): Panels per row. Defaults to 8.
        gap (int): Pixels between panels. Defaults to 4.

    Returns:
        np.ndarray: The sheet, uint8 RGB.
    """
    height, width = panels[0].shape[:2]
    columns = min(columns, len(panels))
    rows = -(-len(panels) // columns)
    sheet = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, 3), 255,
                    dtype=np.uint8)
    for index, panel in enumerate(panels):
        row, column = divmod(index, columns)
        top, left = row * (height + gap), column * (width + gap)
        sheet[top:top + height, left:left + width] = panel
    return sheet


def _palette(images: Sequence[np.ndarray], colors: int) -> Image.Image:
    """One adaptive palette of ``colors`` colours for all ``images`` (from up to 8 of
    them, evenly spaced)."""
    picks = np.linspace(0, len(images) - 1, min(8, len(images))).round().astype(int)
    return Image.fromarray(np.concatenate([images[i] for i in picks])).quantize(
        colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def save_gif(path: str, images: Sequence[np.ndarray], fps: float, colors: int = 128) -> None:
    """An endlessly looping animated GIF.

    All frames share one palette without dithering: GIF compresses the flat areas of the
    panels far better than with a palette per frame.

    Args:
        path (str): Output file.
        images (Sequence[np.ndarray]): ``(h, w, 3)`` uint8 RGB frames of one size.
        fps (float): Frames per second.
        colors (int): Palette size, 2 to 256. Defaults to 128.
    """
    palette = _palette(images, colors)
    frames = [Image.fromarray(image).quantize(palette=palette, dither=Image.Dither.NONE)
              for image in images]
    frames[0].save(path, save_all=True, append_images=frames[1:], loop=0,
                   duration=round(1000 / fps), optimize=True)


def save_mp4(path: str, images: Sequence[np.ndarray], fps: float) -> Optional[str]:
    """Write an MP4 (MPEG-4 part 2) with OpenCV; returns ``path``, or None when this
    OpenCV build cannot write one (the reason is logged)."""
    height, width = images[0].shape[:2]
    # Codecs want even sizes: pad one white row / column where needed.
    even_h, even_w = height + height % 2, width + width % 2
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps, (even_w, even_h))
    if not writer.isOpened():
        print_log(f'OpenCV cannot write {path} (no MPEG-4 encoder): skipped',
                  logger='current')
        return None
    for image in images:
        padded = np.full((even_h, even_w, 3), 255, dtype=np.uint8)
        padded[:height, :width] = image
        writer.write(cv2.cvtColor(padded, cv2.COLOR_RGB2BGR))
    writer.release()
    if not osp.isfile(path) or os.path.getsize(path) == 0:
        print_log(f'OpenCV wrote nothing to {path}: skipped', logger='current')
        return None
    return path


def save_png(path: str, image: np.ndarray, colors: Optional[int] = None) -> None:
    """Write a uint8 RGB image as PNG.

    Args:
        path (str): Output file.
        image (np.ndarray): ``(h, w, 3)`` uint8 RGB.
        colors (int, optional): Store it with a palette of this many colours (2 to 256;
            several times smaller for large sheets). Defaults to None: exact RGB.
    """
    if colors is not None:
        _palette([image], colors).save(path, optimize=True)
    elif not cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f'could not write {path}')


__all__ = ['PanelRenderer', 'attention_overlays', 'colorize', 'contact_sheet',
           'overlay_heatmap', 'save_gif', 'save_mp4', 'save_png']
