"""Finding and decoding the frames of a sign video (frame folders or video files)."""
import os
import os.path as osp
from typing import Dict, List

import cv2
import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from mmsign.datasets.errors import SignLoadError

#: Frame files recognised in a frame folder.
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp')
#: Datasets with a ``tools/data/<name>/preprocess.py`` that writes their frames.
_PREPARED_DATASETS = ('phoenix2014', 'phoenix2014t', 'csl-daily', 'csl')


def _describe(results: dict) -> str:
    dataset = results.get('dataset')
    return f'{dataset + " " if dataset else ""}sample {results.get("sample_id", "?")}'


def _fix(results: dict) -> str:
    dataset = results.get('dataset')
    if dataset in _PREPARED_DATASETS:
        return (f'run tools/data/{dataset}/preprocess.py (it writes the resized frames) or '
                'set data_root / data_prefix in the dataset config')
    return 'check data_root / data_prefix in the dataset config and the annotation list'


def list_frames(frame_dir: str) -> List[str]:
    """The image files of a frame folder, sorted by name.

    Args:
        frame_dir (str): The folder.

    Returns:
        list[str]: Paths of the PNG/JPG files (an empty list if there are none).
    """
    with os.scandir(frame_dir) as entries:
        names = [e.name for e in entries
                 if e.name.lower().endswith(IMAGE_EXTENSIONS) and e.is_file()]
    names.sort()
    return [osp.join(frame_dir, name) for name in names]


def _jpeg_cut_short(path: str) -> bool:
    """Whether a JPEG file lacks its end-of-image marker (``FF D9``).

    OpenCV decodes a truncated JPEG without an error, filling the missing rows with grey;
    PNG's checksums make such a file fail to decode. ``FF D9`` cannot occur inside the
    compressed data (a data byte ``FF`` is followed by ``00``), so its absence from the
    last kilobyte means the file was cut. Costs one small read per JPEG frame.
    """
    with open(path, 'rb') as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 1024))
        return b'\xff\xd9' not in f.read()


@TRANSFORMS.register_module()
class SignInit(BaseTransform):
    """Find a sample's frames without decoding them.

    Lists the image files of a frame folder (``frame_dir``) or opens a video file
    (``filename``) with decord. It runs before :class:`SignTemporalRescale` so that
    :class:`SignDecode` decodes only the frames the rescale keeps.

    Required Keys:

        - frame_dir (str) or filename (str)
        - sample_id (str)

    Added Keys:

        - num_frames (int): frames on disk (replaces a count from the annotations)
        - frame_paths (list[str]): for a frame folder
        - video_reader (decord.VideoReader): for a video file

    Raises:
        SignLoadError: The folder or file is missing, the folder holds no frames, or the
            video cannot be opened (truncated, not a video).

    Args:
        num_threads (int): Decoding threads of decord. Defaults to 1: with several
            DataLoader workers, one thread each scales best.
    """

    def __init__(self, num_threads: int = 1) -> None:
        self.num_threads = num_threads

    def transform(self, results: Dict) -> Dict:
        """List the frames or open the video.

        Args:
            results (dict): The data info of one sample.

        Returns:
            dict: ``results`` with the added keys.
        """
        if 'frame_dir' in results:
            results['frame_paths'] = self._list(results)
            results['num_frames'] = len(results['frame_paths'])
        elif 'filename' in results:
            results['video_reader'] = self._open(results)
            results['num_frames'] = len(results['video_reader'])
        else:
            raise KeyError(f'{_describe(results)} has neither frame_dir nor filename')
        return results

    def _list(self, results: Dict) -> List[str]:
        frame_dir = results['frame_dir']
        if not osp.isdir(frame_dir):
            raise SignLoadError(f'{_describe(results)}: frame folder {frame_dir} not found: '
                                f'{_fix(results)}',
                                sample_id=results.get('sample_id'), path=frame_dir)
        paths = list_frames(frame_dir)
        if not paths:
            raise SignLoadError(
                f'{_describe(results)}: frame folder {frame_dir} holds no '
                f'{"/".join(e[1:].upper() for e in IMAGE_EXTENSIONS)} frames: extract the '
                f'frames of this video again ({_fix(results)}) or remove the sample from '
                'the annotations', sample_id=results.get('sample_id'), path=frame_dir)
        return paths

    def _open(self, results: Dict):
        import decord

        filename = results['filename']
        if not osp.isfile(filename):
            raise SignLoadError(f'{_describe(results)}: video {filename} not found: '
                                f'{_fix(results)}',
                                sample_id=results.get('sample_id'), path=filename)
        try:
            reader = decord.VideoReader(filename, num_threads=self.num_threads)
        except Exception as e:  # decord raises DECORDError (a RuntimeError) and others
            raise SignLoadError(
                f'{_describe(results)}: cannot open video {filename} ({e}): the file is '
                'truncated or not a video; download or copy it again, or re-encode it '
                '(ffmpeg -i IN -c:v libx264 OUT.mp4)',
                sample_id=results.get('sample_id'), path=filename) from e
        if len(reader) == 0:
            raise SignLoadError(f'{_describe(results)}: video {filename} has no frames: '
                                'download or re-encode it, or remove the sample',
                                sample_id=results.get('sample_id'), path=filename)
        return reader

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(num_threads={self.num_threads})'


@TRANSFORMS.register_module()
class SignDecode(BaseTransform):
    """Decode the selected frames of a sample into one RGB uint8 array.

    Decodes ``frame_inds`` (all frames when absent), each distinct frame once, with
    ``cv2.imread`` (PNG/JPG; BGR converted to RGB in place) or decord's ``get_batch``.
    ``imgs`` is an ``np.ndarray`` of shape ``(T, H, W, 3)`` (mmaction2 transforms use a
    list of frames; one array makes the whole-video crop and flip views, not copies).

    Required Keys:

        - frame_paths (list[str]) or video_reader (decord.VideoReader)
        - num_frames (int)
        - sample_id (str)

    Optional Keys:

        - frame_inds (np.ndarray): indices into the frames, in output order

    Added Keys:

        - imgs (np.ndarray): ``(T, H, W, 3)`` uint8 RGB
        - img_shape (tuple[int, int]): ``(H, W)``
        - original_shape (tuple[int, int]): ``(H, W)``

    Removed Keys:

        - frame_paths, video_reader

    Raises:
        SignLoadError: A frame cannot be decoded (truncated or corrupt file, or frames of
            different sizes), or the video is truncated.
    """

    def transform(self, results: Dict) -> Dict:
        """Decode the frames.

        Args:
            results (dict): The result dict of :class:`SignInit` (and
                :class:`SignTemporalRescale`).

        Returns:
            dict: ``results`` with the decoded frames.
        """
        num_frames = results['num_frames']
        inds = results.get('frame_inds')
        inds = np.arange(num_frames) if inds is None else np.asarray(inds, dtype=np.int64)
        if inds.size == 0 or inds.min() < 0 or inds.max() >= num_frames:
            raise IndexError(f'{_describe(results)}: frame_inds must select at least one of '
                             f'its {num_frames} frames, got {inds.tolist()}')
        unique, inverse = np.unique(inds, return_inverse=True)
        if 'frame_paths' in results:
            frames = self._decode_images(results, [results['frame_paths'][i] for i in unique])
            results.pop('frame_paths')
        else:
            frames = self._decode_video(results, unique)
            results.pop('video_reader')
        if len(unique) != len(inds) or not np.array_equal(unique, inds):
            frames = frames[inverse.reshape(-1)]
        results['imgs'] = frames
        results['img_shape'] = frames.shape[1:3]
        results['original_shape'] = frames.shape[1:3]
        return results

    @staticmethod
    def _read(results: Dict, path: str) -> np.ndarray:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None or (path.lower().endswith(('.jpg', '.jpeg')) and _jpeg_cut_short(path)):
            raise SignLoadError(
                f'{_describe(results)}: cannot decode frame {path}: the file is truncated '
                f'or not an image; extract the frames of this video again ({_fix(results)})',
                sample_id=results.get('sample_id'), path=path)
        return img

    def _decode_images(self, results: Dict, paths: List[str]) -> np.ndarray:
        first = self._read(results, paths[0])
        out = np.empty((len(paths), ) + first.shape, dtype=np.uint8)
        cv2.cvtColor(first, cv2.COLOR_BGR2RGB, dst=out[0])
        for k in range(1, len(paths)):
            img = self._read(results, paths[k])
            if img.shape != first.shape:
                raise SignLoadError(
                    f'{_describe(results)}: frame {paths[k]} is {img.shape[1]}x'
                    f'{img.shape[0]} but {paths[0]} is {first.shape[1]}x{first.shape[0]}: '
                    f'all frames of a video must have one size ({_fix(results)})',
                    sample_id=results.get('sample_id'), path=paths[k])
            cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=out[k])
        return out

    @staticmethod
    def _decode_video(results: Dict, inds: np.ndarray) -> np.ndarray:
        filename = results.get('filename', '?')
        try:
            frames = results['video_reader'].get_batch(inds.tolist()).asnumpy()
        except Exception as e:  # decord raises DECORDError on a truncated stream
            raise SignLoadError(
                f'{_describe(results)}: cannot decode frames of video {filename} ({e}): the '
                'file is truncated or corrupt; download or copy it again, or re-encode it',
                sample_id=results.get('sample_id'), path=filename) from e
        if frames.shape[0] != len(inds):
            raise SignLoadError(
                f'{_describe(results)}: video {filename} gave {frames.shape[0]} of the '
                f'{len(inds)} frames asked for: the file is truncated; re-encode it',
                sample_id=results.get('sample_id'), path=filename)
        return np.ascontiguousarray(frames, dtype=np.uint8)
