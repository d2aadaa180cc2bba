"""A local web page that recognises the glosses of an uploaded sign video.

Example:
    python tools/demo/web_demo.py configs/adaptsign_synthetic.py \
        work_dirs/adaptsign_synthetic/best_wer_seq_epoch_10.pth --examples data/videos/*.mp4

then open http://127.0.0.1:7860. Upload a video (or pick an example): the page shows the
gloss sequence with start/end times and confidences, a timeline (inline SVG) and the
backbone's attention over the frame where each gloss is signed (``mmsign.visualization``).

The HTTP API (docs/inference.md): ``POST /recognize`` with the video as a
``multipart/form-data`` field (``curl -F file=@v.mp4 http://127.0.0.1:7860/recognize``) or
as the raw request body (``curl --data-binary @v.mp4 -H 'X-Filename: v.mp4' ...``);
``POST /recognize?example=NAME`` runs an example. The answer is JSON: the result, or
``{"error": "..."}`` with a 4xx/5xx status.

Served by starlette on uvicorn (``pip install -e .[optional]``). Facing a network, it
holds these limits: it binds 127.0.0.1 unless ``--host`` says otherwise (and then answers
only requests addressed to this machine's loopback names); ``Content-Length`` must be a
number up to ``--max-mb`` (else 4xx before the body is read; chunked uploads are refused);
request headers and the whole body must arrive within ``--timeout`` seconds (else the
connection is closed, 408); at most ``--max-uploads`` uploads are taken at once and
``--max-connections`` connections are open (503 beyond); videos over ``--max-seconds``,
``--max-frames`` frames or ``--max-pixels`` pixels a frame are refused before they are
decoded further. Uploads are written to one private temporary folder, each file removed
after its request, the folder on exit (Ctrl-C, SIGTERM). One video is recognised at a
time, in a worker thread, so the server keeps answering meanwhile.
"""
import argparse
import asyncio
import base64
import html
import io
import os
import os.path as osp
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
from typing import Dict, List, Optional
from urllib.parse import unquote

import numpy as np
import torch
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from mmsign.apis import VideoSource, inference_recognizer, init_recognizer
from mmsign.cli.command import run_cli
from mmsign.cli.runtime import DictAction
from mmsign.datasets.errors import SignLoadError
from mmsign.visualization import attention_overlays, video_attention

PAGE = osp.join(osp.dirname(osp.abspath(__file__)), 'web_demo.html')
#: Attention panels shown at most (one per gloss, spread over the video).
MAX_PANELS = 12
PANEL_SIZE = 144
LOOPBACK = ('127.0.0.1', 'localhost', '::1')
#: File name suffixes kept for the temporary copy of an upload (decoders sniff content).
SUFFIX = re.compile(r'\.[A-Za-z0-9]{1,5}')


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
    parser.add_argument('--max-frames', type=int, default=6000,
                        help='most frames of a video (%(default)s)')
    parser.add_argument('--max-pixels', type=int, default=1920 * 1080,
                        help='largest frame, width x height (%(default)s)')
    parser.add_argument('--timeout', type=float, default=30,
                        help='seconds a client has to send its request, headers and '
                        'body (%(default)s)')
    parser.add_argument('--max-uploads', type=int, default=4,
                        help='uploads taken at once; more get 503 (%(default)s)')
    parser.add_argument('--max-connections', type=int, default=64,
                        help='open connections; more get 503 (%(default)s)')
    parser.add_argument('--fps', type=float, help='resample videos to this frame rate')
    parser.add_argument('--device', default='cuda:0' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries')
    return parser.parse_args(argv)


class UserError(ValueError):
    """A problem with the request, shown on the page with its HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


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


def display_name(name: Optional[str]) -> str:
    """A client's file name made harmless: its last path part, printable, 100 characters."""
    name = re.split(r'[\\/]', name or '')[-1]
    name = ''.join(c for c in name if c.isprintable())[:100].strip()
    return name if name not in ('', '.', '..') else 'upload'


def example_files(paths: List[str]) -> Dict[str, str]:
    """``--examples`` by base name: regular files only, each named once."""
    found: Dict[str, str] = {}
    for path in paths:
        name = osp.basename(path)
        if not osp.isfile(path):
            raise SystemExit(f'--examples: {path} is not a file')
        if name in found:
            raise SystemExit(f'--examples: two files are called {name} ({found[name]} and '
                             f'{path}); rename one')
        found[name] = osp.realpath(path)
    return found


class Recognizer:
    """The model and the limits, shared by the request threads (one video at a time)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.examples = example_files(args.examples)
        self.model = init_recognizer(args.config, args.checkpoint, device=args.device,
                                     cfg_options=args.cfg_options)
        self.fps = args.fps
        self.max_bytes = int(args.max_mb * 1024 * 1024)
        self.max_seconds = args.max_seconds
        self.max_frames = args.max_frames
        self.max_pixels = args.max_pixels
        self.lock = threading.Lock()

    def check(self, path: str, name: str) -> float:
        """Refuse what is no video or too large, from its first frame; return seconds."""
        try:
            source = VideoSource(path, fps=self.fps)
            first = source.read(0, 1)  # decord opens some non-video files; decoding tells
        except (SignLoadError, IndexError) as e:
            raise UserError(f'{name} is not a video file that can be decoded; upload an '
                            'mp4, avi, mkv or webm video') from e
        height, width = first.shape[1:3]
        if height * width > self.max_pixels:
            raise UserError(f'{name} has {width}x{height} frames; this demo takes frames up '
                            f'to {self.max_pixels} pixels (start it with --max-pixels)')
        if source.num_frames > self.max_frames:
            raise UserError(f'{name} has {source.num_frames} frames; this demo takes videos '
                            f'up to {self.max_frames} frames (start it with --max-frames)')
        seconds = source.num_frames / (source.fps or 25.0)
        if seconds > self.max_seconds:
            raise UserError(f'{name} lasts {seconds:.0f} s; this demo takes videos up to '
                            f'{self.max_seconds:g} s (start it with --max-seconds)')
        return seconds

    def __call__(self, path: str, name: str) -> Dict:
        seconds = self.check(path, name)
        with self.lock, torch.no_grad():
            result = inference_recognizer(self.model, path, fps=self.fps)
            panels = attention_panels(self.model, path, self.fps, result.timestamps)
        return dict(name=name, glosses=result.glosses, timestamps=result.timestamps,
                    glosses_conv=result.glosses_conv, duration=round(seconds, 3),
                    frames=result.num_frames, video=result.video, attention=panels,
                    seconds=round(result.timing['total'], 3))


def header_deadline_protocol(timeout: float) -> type:
    """uvicorn's h11 protocol closing connections whose request headers take longer than
    ``timeout`` seconds (uvicorn has no such limit: a client sending its headers a byte at
    a time would hold its connection forever)."""

    class HeaderDeadlineProtocol(H11Protocol):

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def _arm(self) -> None:
            self._waiting_after = self.cycle
            self._deadline = self.loop.call_later(timeout, self._too_slow)

        def _disarm(self) -> None:
            deadline = getattr(self, '_deadline', None)
            if deadline is not None:
                deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if self.cycle is self._waiting_after and not self.transport.is_closing():
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not self._waiting_after:  # a request's headers are in
                self._disarm()

        def on_response_complete(self) -> None:
            before = self.cycle
            super().on_response_complete()
            if self.cycle is before and not self.transport.is_closing():
                self._disarm()
                self._arm()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderDeadlineProtocol


class Uploads:
    """Receives uploads into a private folder, within the size, time and count limits."""

    def __init__(self, recognizer: Recognizer, folder: str, timeout: float,
                 max_uploads: int) -> None:
        self.recognizer = recognizer
        self.folder = folder
        self.timeout = timeout
        self.max_uploads = max_uploads
        self.active = 0

    def length(self, request: Request) -> int:
        """The declared body size, refused unless a number within ``--max-mb``."""
        if 'chunked' in request.headers.get('transfer-encoding', '').lower():
            raise UserError('send the video with a Content-Length (chunked uploads are not '
                            'taken)', 411)
        declared = request.headers.get('content-length')
        if declared is None or not declared.isdigit():
            raise UserError('Content-Length must be the number of bytes of the upload', 411
                            if declared is None else 400)
        length, limit = int(declared), self.recognizer.max_bytes
        if length > limit:
            raise UserError(f'the upload has {length / 1024 / 1024:.1f} MB; this demo takes '
                            f'uploads up to {limit / 1024 / 1024:g} MB (start it with '
                            '--max-mb)', 413)
        if length == 0:
            raise UserError('the upload is empty: choose a video file')
        return length

    async def chunks(self, request: Request, length: int):
        """The body's chunks, until ``length`` bytes, within the time limit."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        received = 0
        stream = request.stream().__aiter__()
        while True:
            try:
                chunk = await asyncio.wait_for(stream.__anext__(), deadline - loop.time())
            except StopAsyncIteration:
                break
            except asyncio.TimeoutError:
                raise UserError(f'the upload did not arrive within {self.timeout:g} s '
                                '(start the demo with --timeout)', 408) from None
            received += len(chunk)
            if received > length:
                raise UserError('the body is longer than its Content-Length')
            yield chunk
        if received < length:
            raise UserError('the upload was cut off before its end')

    async def receive(self, request: Request, length: int, path: str) -> str:
        """Write the upload to ``path``; return its display name."""
        content_type = request.headers.get('content-type', '')
        if content_type.startswith('multipart/form-data'):
            body = io.BytesIO()
            async for chunk in self.chunks(request, length):
                body.write(chunk)
            form = Request(request.scope, receive=_replay(body.getvalue()))
            try:
                fields = await form.form(max_files=1, max_fields=4)
            except (HTTPException, MultiPartException) as e:
                raise UserError('the form cannot be read ('
                                f'{getattr(e, "detail", None) or getattr(e, "message", e)}): '
                                'send the video as curl -F file=@video.mp4 does') from e
            try:
                upload = fields.get('file')
                if upload is None or isinstance(upload, str):
                    raise UserError("the form has no file field called 'file' (curl -F "
                                    'file=@video.mp4)')
                with open(path, 'wb') as f:
                    shutil.copyfileobj(upload.file, f)
                return display_name(upload.filename)
            finally:
                await fields.close()
        with open(path, 'wb') as f:
            async for chunk in self.chunks(request, length):
                f.write(chunk)
        return display_name(unquote(request.headers.get('x-filename') or ''))

    async def recognize(self, request: Request) -> JSONResponse:
        try:
            if self.active >= self.max_uploads:
                raise UserError(f'{self.active} videos are being received or recognised; '
                                'try again in a moment (start the demo with --max-uploads)',
                                503)
            self.active += 1
            try:
                example = request.query_params.get('example')
                if example is None:
                    return JSONResponse(await self._upload(request))
                if example not in self.recognizer.examples:
                    raise UserError(f'no example called {example!r}', 404)
                return JSONResponse(await run_in_threadpool(
                    self.recognizer, self.recognizer.examples[example], example))
            finally:
                self.active -= 1
        except UserError as e:
            headers = {'Connection': 'close'} if e.status in (400, 408, 411, 413) else {}
            return JSONResponse(dict(error=str(e)), e.status, headers=headers)
        except Exception as e:  # the page must say what went wrong, not hang
            return JSONResponse(dict(error=f'recognition failed: {type(e).__name__}: {e}'),
                                500)

    async def _upload(self, request: Request) -> Dict:
        length = self.length(request)
        handle, path = tempfile.mkstemp(prefix='upload_', dir=self.folder)
        os.close(handle)
        try:
            name = await self.receive(request, length, path)
            suffix = osp.splitext(name)[1]
            if SUFFIX.fullmatch(suffix):
                os.replace(path, path + suffix)
                path += suffix
            return await run_in_threadpool(self.recognizer, path, name)
        finally:
            for leftover in (path, osp.splitext(path)[0]):
                if osp.exists(leftover):
                    os.remove(leftover)


def _replay(body: bytes):
    """An ASGI ``receive`` giving ``body`` at once (a multipart body read within limits)."""
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return dict(type='http.disconnect')
        sent = True
        return dict(type='http.request', body=body, more_body=False)

    return receive


def make_app(recognizer: Recognizer, folder: str, args: argparse.Namespace) -> Starlette:
    """The demo's ASGI application: the page and ``POST /recognize``."""
    uploads = Uploads(recognizer, folder, args.timeout, args.max_uploads)
    with open(PAGE, encoding='utf-8') as f:
        page = f.read()
    options = ''.join(f'<option value="{html.escape(name)}">{html.escape(name)}</option>'
                      for name in sorted(recognizer.examples))
    page = page.replace('{{EXAMPLES}}', options).replace(
        '{{MAX_MB}}', f'{recognizer.max_bytes / 1024 / 1024:g}').replace(
        '{{MAX_SECONDS}}', f'{recognizer.max_seconds:g}')

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(page, headers={'Cache-Control': 'no-store'})

    middleware = []
    if args.host in LOOPBACK:  # a page elsewhere cannot reach it by DNS rebinding
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=[
            '127.0.0.1', 'localhost', '[::1]']))
    return Starlette(routes=[Route('/', index, methods=['GET']),
                             Route('/recognize', uploads.recognize, methods=['POST'])],
                     middleware=middleware)


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt  # the finally below removes the uploads folder


def main(argv=None) -> int:
    args = parse_args(argv)
    recognizer = run_cli(lambda: Recognizer(args), 'tools/demo/web_demo.py')
    folder = tempfile.mkdtemp(prefix='mmsign_demo_')
    try:
        signal.signal(signal.SIGTERM, _stop)
        config = uvicorn.Config(
            make_app(recognizer, folder, args), http=header_deadline_protocol(args.timeout),
            limit_concurrency=args.max_connections, timeout_keep_alive=5,
            timeout_graceful_shutdown=2, lifespan='off', log_level='warning')
        sock = socket.socket(socket.AF_INET6 if ':' in args.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((args.host, args.port))
        except OSError as e:
            raise SystemExit(f'tools/demo/web_demo.py: error: cannot listen on '
                             f'{args.host}:{args.port}: {e.strerror}; pass another --port '
                             'or --host') from None
        sock.listen(128)  # connections wait from now on, while uvicorn starts
        host, port = sock.getsockname()[:2]
        shown = f'[{host}]' if ':' in host else host
        print(f'mmsign web demo serving at http://{shown}:{port}/ (Ctrl+C stops it)',
              flush=True)
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
