"""A local web page that recognises the glosses of an uploaded sign video.

Example:
    python tools/demo/web_demo.py configs/adaptsign_synthetic.py \
        work_dirs/adaptsign_synthetic/best_wer_seq_epoch_10.pth --examples data/videos/*.mp4

then open http://127.0.0.1:7860. Upload a video (or pick an example): the page shows the
gloss sequence with start/end times and confidences, a timeline (inline SVG) and the
backbone's attention over the frame where each gloss is signed (``mmsign.visualization``).

A small standard-library server (``http.server``), no web framework: one HTML page with
inline CSS and JavaScript, posting the file's bytes to ``/recognize``. It binds to
127.0.0.1 unless ``--host`` says otherwise, refuses uploads over ``--max-mb`` megabytes
and videos over ``--max-seconds`` seconds, and answers files that are not videos with a
message on the page. Preprocessing is the config's test pipeline, as everywhere in
``mmsign.apis``; one video is recognised at a time.
"""
import argparse
import base64
import io
import json
import os
import os.path as osp
import sys
import tempfile
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np
import torch
from PIL import Image

from mmsign.apis import VideoSource, inference_recognizer, init_recognizer
from mmsign.cli.runtime import DictAction
from mmsign.datasets.errors import SignLoadError
from mmsign.visualization import attention_overlays, video_attention

PAGE = osp.join(osp.dirname(osp.abspath(__file__)), 'web_demo.html')
#: Attention panels shown at most (one per gloss, spread over the video).
MAX_PANELS = 12
PANEL_SIZE = 144


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Web demo of a sign recognizer')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='mmsign checkpoint')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to bind (default: %(default)s, this machine only)')
    parser.add_argument('--port', type=int, default=7860, help='port (%(default)s)')
    parser.add_argument('--examples', nargs='*', default=[],
                        help='video files offered as examples on the page')
    parser.add_argument('--max-mb', type=float, default=50,
                        help='largest upload in megabytes (%(default)s)')
    parser.add_argument('--max-seconds', type=float, default=120,
                        help='longest video in seconds (%(default)s)')
    parser.add_argument('--fps', type=float, help='resample videos to this frame rate')
    parser.add_argument('--device', default='cuda:0' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries')
    return parser.parse_args(argv)


class UserError(ValueError):
    """A problem with the upload, shown on the page."""


def png_data_url(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format='PNG')
    return 'data:image/png;base64,' + base64.b64encode(buffer.getvalue()).decode('ascii')


def attention_panels(model, path: str, fps: Optional[float],
                     stamps: List[Dict]) -> List[Dict]:
    """Attention overlays of the frame in the middle of each gloss, as PNG data URLs.

    Returns:
        list[dict]: ``gloss``, ``time`` (seconds or None), ``frame`` and ``image``.
    """
    attention = video_attention(model, path, fps=fps)
    overlays = attention_overlays(attention)
    picks = [dict(gloss=s['gloss'], time=s['start'],
                  frame=(s['start_frame'] + s['end_frame'] - 1) // 2) for s in stamps]
    if not picks:  # nothing recognised: show where it looked across the video
        picks = [dict(gloss='', time=None, frame=int(f)) for f in
                 np.linspace(0, len(overlays) - 1, min(len(overlays), 6))]
    picks = picks[::max(1, -(-len(picks) // MAX_PANELS))]
    for pick in picks:
        frame = overlays[min(pick['frame'], len(overlays) - 1)]
        pick['image'] = png_data_url(np.asarray(Image.fromarray(frame).resize(
            (PANEL_SIZE, PANEL_SIZE), Image.NEAREST)))
    return picks


class Recognizer:
    """The model and the limits, shared by the request threads (one video at a time)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.model = init_recognizer(args.config, args.checkpoint, device=args.device,
                                     cfg_options=args.cfg_options)
        self.fps = args.fps
        self.max_bytes = int(args.max_mb * 1024 * 1024)
        self.max_seconds = args.max_seconds
        self.examples = {osp.basename(p): osp.abspath(p) for p in args.examples}
        self.lock = threading.Lock()

    def __call__(self, path: str, name: str) -> Dict:
        try:
            source = VideoSource(path, fps=self.fps)
            source.read(0, 1)  # decord opens some non-video files; decoding tells
        except SignLoadError as e:
            raise UserError(f'{name} is not a video file that can be decoded; upload an '
                            'mp4, avi, mkv or webm video') from e
        seconds = source.num_frames / (source.fps or 25.0)
        if seconds > self.max_seconds:
            raise UserError(f'{name} lasts {seconds:.0f} s; this demo takes videos up to '
                            f'{self.max_seconds:g} s (start it with --max-seconds)')
        with self.lock, torch.no_grad():
            result = inference_recognizer(self.model, path, fps=self.fps)
            panels = attention_panels(self.model, path, self.fps, result.timestamps)
        return dict(name=name, glosses=result.glosses, timestamps=result.timestamps,
                    glosses_conv=result.glosses_conv, duration=round(seconds, 3),
                    frames=result.num_frames, video=result.video, attention=panels,
                    seconds=round(result.timing['total'], 3))


def make_handler(recognizer: Recognizer):
    """The request handler class bound to ``recognizer``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = 'mmsign-web-demo'

        def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's)
            sys.stderr.write(f'web_demo: {self.address_string()} {format % args}\n')

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header('Content-Type', content_type)
            self.send_header('Content-Length', str(len(body)))
            self.send_header('Cache-Control', 'no-store')
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: Dict) -> None:
            self._send(status, json.dumps(payload).encode('utf-8'), 'application/json')

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if urlparse(self.path).path != '/':
                self._json(HTTPStatus.NOT_FOUND, dict(error='not found'))
                return
            with open(PAGE, encoding='utf-8') as f:
                page = f.read()
            options = ''.join(f'<option value="{name}">{name}</option>'
                              for name in sorted(recognizer.examples))
            page = page.replace('{{EXAMPLES}}', options).replace(
                '{{MAX_MB}}', f'{recognizer.max_bytes / 1024 / 1024:g}').replace(
                '{{MAX_SECONDS}}', f'{recognizer.max_seconds:g}')
            self._send(HTTPStatus.OK, page.encode('utf-8'), 'text/html; charset=utf-8')

        def do_POST(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            if url.path != '/recognize':
                self._json(HTTPStatus.NOT_FOUND, dict(error='not found'))
                return
            try:
                example = parse_qs(url.query).get('example', [None])[0]
                if example is not None:
                    if example not in recognizer.examples:
                        raise UserError(f'no example called {example!r}')
                    self._json(HTTPStatus.OK,
                               recognizer(recognizer.examples[example], example))
                    return
                self._json(HTTPStatus.OK, self._upload())
            except UserError as e:
                self._json(HTTPStatus.BAD_REQUEST, dict(error=str(e)))
            except Exception as e:  # the page must say what went wrong, not hang
                self._json(HTTPStatus.INTERNAL_SERVER_ERROR,
                           dict(error=f'recognition failed: {type(e).__name__}: {e}'))

        def _upload(self) -> Dict:
            length = int(self.headers.get('Content-Length') or 0)
            name = osp.basename(unquote(self.headers.get('X-Filename') or 'upload'))
            if length > recognizer.max_bytes:
                self.close_connection = True  # the body is not read
                raise UserError(f'{name} has {length / 1024 / 1024:.1f} MB; this demo takes '
                                f'uploads up to {recognizer.max_bytes / 1024 / 1024:g} MB '
                                '(start it with --max-mb)')
            if length == 0:
                raise UserError('the upload is empty: choose a video file')
            data = self.rfile.read(length)
            suffix = osp.splitext(name)[1][:8] or '.bin'
            handle, path = tempfile.mkstemp(prefix='mmsign_demo_', suffix=suffix)
            try:
                with os.fdopen(handle, 'wb') as f:
                    f.write(data)
                return recognizer(path, name)
            finally:
                os.unlink(path)

    return Handler


def main(argv=None) -> int:
    args = parse_args(argv)
    recognizer = Recognizer(args)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(recognizer))
    host, port = server.server_address[:2]
    print(f'mmsign web demo serving at http://{host}:{port}/ (Ctrl+C stops it)', flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
