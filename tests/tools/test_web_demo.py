"""tools/demo/web_demo.py end to end: in a real headless browser (chromium + selenium), over
its HTTP API (curl -F, raw body) and against the attacks of a network (sizes, slow
clients, names, left-over uploads), always on a loopback port."""
import json
import os
import os.path as osp
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest
import torch

from mmsign.apis import inference_recognizer, init_recognizer

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'adaptsign_synthetic.py')
CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                  '--no-first-run', '--disable-background-networking',
                  '--disable-component-update', '--disable-sync', '--window-size=1100,1300']
#: An example file name that is HTML: the page must show it as text.
NASTY = 'a"><img id=injected src=x>.mp4'
#: The test server's limits: seconds for a request, uploads and connections at once.
TIMEOUT, MAX_UPLOADS, MAX_CONNECTIONS = 4, 2, 12

pytestmark = pytest.mark.slow


def browser_binaries():
    """chromium and chromedriver; the test fails (CI installs both) when they are absent."""
    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    driver = shutil.which('chromedriver')
    if not chromium or not driver:
        pytest.fail('the web demo test needs Debian\'s chromium and chromium-driver: '
                    'apt-get install -y chromium chromium-driver (and pip install selenium)')
    return chromium, driver


def write_video(path, frames, size=(40, 52), fps=25):
    h, w = size
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps, (w, h))
    for t in range(frames):
        img = np.full((h, w, 3), 30, np.uint8)
        img[5 + t % 15:17 + t % 15, 3 + t % 30:15 + t % 30] = (40, 200, 250)
        writer.write(img)
    writer.release()
    return path


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start_server(root, checkpoint, example):
    """The demo on a free loopback port, its temporary files under ``root/tmp``."""
    port = free_port()
    tmp = root / 'tmp'
    tmp.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, osp.join(REPO, 'tools', 'demo', 'web_demo.py'), CONFIG, checkpoint,
         '--port', str(port), '--max-mb', '1', '--max-seconds', '3', '--max-frames', '80',
         '--max-pixels', '4000', '--timeout', str(TIMEOUT), '--max-uploads',
         str(MAX_UPLOADS), '--max-connections', str(MAX_CONNECTIONS), '--examples', example],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, TMPDIR=str(tmp)))
    deadline = time.monotonic() + 1200  # a hang guard only
    for line in process.stdout:
        if 'serving at' in line:
            break
        assert time.monotonic() < deadline and process.poll() is None, line
    assert f'http://127.0.0.1:{port}/' in line  # loopback by default
    return process, port, tmp


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp('web')
    torch.manual_seed(0)
    model = init_recognizer(CONFIG)
    model.backbone.temporal.weight.data.fill_(0.5)
    path = str(root / 'tiny.pth')
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'glosses': model.vocab.glosses}}}, path)
    example = write_video(str(root / NASTY), 40)
    return dict(root=root, path=path, model=model, example=example)


@pytest.fixture(scope='module')
def server(checkpoint):
    """A tiny random model's checkpoint, served by the demo on a free loopback port."""
    process, port, tmp = start_server(checkpoint['root'], checkpoint['path'],
                                      checkpoint['example'])
    try:
        yield dict(checkpoint, url=f'http://127.0.0.1:{port}/', port=port, tmp=tmp,
                   process=process)
    finally:
        process.terminate()
        process.wait(timeout=30)


def leftovers(tmp):
    """Files the demo left in its temporary folders."""
    return [osp.join(d, f) for d, _, files in os.walk(tmp) for f in files]


@pytest.fixture(scope='module')
def browser(server):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = browser_binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f'--user-data-dir={server["root"] / "chromium-profile"}')
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def submit(browser, path, button='upload'):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    if path is not None:
        browser.find_element(By.ID, 'file').send_keys(path)
    browser.find_element(By.ID, button).click()
    WebDriverWait(browser, 900).until(
        lambda d: d.find_element(By.ID, 'status').text in ('done', '')
        and (d.find_element(By.ID, 'glosses').text or d.find_element(By.ID, 'error').text))
    return (browser.find_element(By.ID, 'glosses').text,
            browser.find_element(By.ID, 'error').text)


def test_upload_shows_glosses_timeline_and_attention(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    video = write_video(str(tmp_path / 'signing.mp4'), 30)
    expected = inference_recognizer(server['model'], video)
    assert expected.glosses, 'a model that says nothing would make this test vacuous'
    browser.get(server['url'])
    glosses, error = submit(browser, video)  # the page sends multipart/form-data
    assert error == '' and glosses == ' '.join(expected.glosses)
    rows = browser.find_elements(By.CSS_SELECTOR, '#stamps tbody tr')
    assert [r.find_elements(By.TAG_NAME, 'td')[1].text for r in rows] == expected.glosses
    starts = [float(r.find_elements(By.TAG_NAME, 'td')[2].text) for r in rows]
    assert starts == [round(s['start'], 2) for s in expected.timestamps]
    assert len(browser.find_elements(By.CSS_SELECTOR, '#timeline g.gloss')) == len(rows)
    images = browser.find_elements(By.CSS_SELECTOR, '#attention img')
    assert len(images) == len(rows)  # one overlay per gloss
    assert images[0].get_attribute('src').startswith('data:image/png;base64,')
    assert browser.execute_script('return arguments[0].naturalWidth', images[0]) > 100
    captions = [c.text for c in browser.find_elements(By.CSS_SELECTOR, '#attention figcaption')]
    assert captions[0].startswith(expected.glosses[0] + ' @ ')

    # an example of the server's list, whose name is HTML: shown as text, sent back intact
    browser.get(server['url'])
    assert browser.find_elements(By.ID, 'injected') == []
    options = browser.find_elements(By.CSS_SELECTOR, '#example option')
    assert [o.text for o in options] == [NASTY]
    glosses, error = submit(browser, None, button='run-example')
    assert error == ''
    assert glosses == ' '.join(inference_recognizer(server['model'], server['example']).glosses)
    assert leftovers(server['tmp']) == []


def test_a_text_file_gets_an_error_on_the_page(server, browser, tmp_path):
    notes = tmp_path / 'notes.txt'
    notes.write_text('these are not frames\n' * 20)
    browser.get(server['url'])
    glosses, error = submit(browser, str(notes))
    assert glosses == ''
    assert 'notes.txt is not a video file' in error
    assert leftovers(server['tmp']) == []


def post(url, body, name=None, headers=None):
    headers = dict(headers or {})
    if name is not None:
        headers['X-Filename'] = name
    request = urllib.request.Request(url + 'recognize', data=body, method='POST',
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_curl_form_upload_and_raw_body_give_the_api_json(server, tmp_path):
    video = write_video(str(tmp_path / 'signing.mp4'), 30)
    expected = inference_recognizer(server['model'], video)
    if shutil.which('curl') is None:
        pytest.fail('this test runs the documented curl command: apt-get install -y curl')
    # the documented command, with a file name that tries to leave the upload folder
    curl = subprocess.run(['curl', '-sS', '-F', f'file=@{video};filename=../../x/evil.mp4',
                           server['url'] + 'recognize'], capture_output=True, text=True,
                          timeout=900)
    assert curl.returncode == 0, curl.stderr
    reply = json.loads(curl.stdout)
    assert reply['name'] == 'evil.mp4' and reply['glosses'] == expected.glosses
    assert set(reply) >= {'glosses', 'timestamps', 'glosses_conv', 'duration', 'frames',
                          'video', 'attention', 'seconds'}
    assert [s['gloss'] for s in reply['timestamps']] == expected.glosses
    assert not (tmp_path.parent / 'x').exists()

    with open(video, 'rb') as f:
        status, raw = post(server['url'], f.read(), 'signing.mp4')
    assert status == 200 and raw['glosses'] == expected.glosses and raw['name'] == 'signing.mp4'

    status, reply = post(server['url'], b'--x\r\n\r\n', headers={
        'Content-Type': 'multipart/form-data; boundary=x'})
    assert status == 400 and 'the form cannot be read' in reply['error']
    status, reply = post(server['url'], b'--x\r\nContent-Disposition: form-data; name="a"'
                         b'\r\n\r\n1\r\n--x--\r\n',
                         headers={'Content-Type': 'multipart/form-data; boundary=x'})
    assert status == 400 and "no file field called 'file'" in reply['error']
    assert leftovers(server['tmp']) == []


def test_upload_size_duration_frames_and_pixels_are_limited(server, tmp_path):
    for frames, fps, size, message in [
            (76, 19, (40, 52), 'long.mp4 lasts 4 s; this demo takes videos up to 3 s'),
            (100, 100, (40, 52), 'long.mp4 has 100 frames; this demo takes videos up to 80'),
            (10, 25, (80, 80), 'long.mp4 has 80x80 frames; this demo takes frames up to 4000')]:
        video = write_video(str(tmp_path / 'long.mp4'), frames, size, fps)
        with open(video, 'rb') as f:
            status, reply = post(server['url'], f.read(), 'long.mp4')
        assert status == 400 and message in reply['error'], reply
    assert leftovers(server['tmp']) == []


def raw_request(port, head, body=b'', timeout=60):
    """Send ``head`` (and ``body``) on a new connection; the status line and the rest."""
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as sock:
        sock.sendall(head.replace('\n', '\r\n').encode() + b'\r\n' + body)
        answer = b''
        while b'\r\n\r\n' not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer.split(b'\r\n', 1)[0].decode(), answer


@pytest.mark.parametrize('length,status', [('-1', 400), ('abc', 400), ('1e9', 400),
                                           (str(120 * 1024 * 1024), 413)])
def test_content_length_is_refused_before_the_body_is_read(server, length, status):
    # no body is sent: an answer proves that the server did not wait for one
    line, answer = raw_request(server['port'], 'POST /recognize HTTP/1.1\nHost: 127.0.0.1\n'
                               f'Content-Length: {length}\n')
    assert line.split()[1] == str(status), answer
    line, answer = raw_request(server['port'], 'POST /recognize HTTP/1.1\nHost: 127.0.0.1\n'
                               'Transfer-Encoding: chunked\n', b'5\r\nhello\r\n')
    assert line.split()[1] == '411', answer


def test_requests_for_another_host_are_refused(server):
    # DNS rebinding: a page of evil.example resolving to 127.0.0.1
    line, _ = raw_request(server['port'], 'GET / HTTP/1.1\nHost: evil.example\n')
    assert line.split()[1] == '400'


def test_slow_clients_cannot_starve_the_others(server, tmp_path):
    video = write_video(str(tmp_path / 'signing.mp4'), 30)
    with open(video, 'rb') as f:
        data = f.read()
    port = server['port']
    slow = []
    try:
        # uploads that send half their body, then nothing: they hold the upload slots
        for _ in range(MAX_UPLOADS):
            sock = socket.create_connection(('127.0.0.1', port), timeout=60)
            sock.sendall(b'POST /recognize HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filename: a.mp4'
                         + f'\r\nContent-Length: {len(data)}\r\n\r\n'.encode()
                         + data[:len(data) // 2])
            slow.append(sock)
        time.sleep(0.5)
        status, reply = post(server['url'], data, 'signing.mp4')
        assert status == 503 and 'try again in a moment' in reply['error']
        # a partial upload is on disk meanwhile (removed below)
        assert len(leftovers(server['tmp'])) == MAX_UPLOADS
        for answer in slow:  # dropped after --timeout with a 408
            assert answer.recv(4096).split(b'\r\n', 1)[0].split()[1] == b'408'
        # clients that send their headers a byte at a time take every connection ...
        for _ in range(MAX_CONNECTIONS):
            sock = socket.create_connection(('127.0.0.1', port), timeout=60)
            sock.sendall(b'GET / HT')
            slow.append(sock)
        time.sleep(0.5)
        line, _ = raw_request(port, 'GET / HTTP/1.1\nHost: 127.0.0.1\n')
        assert line.split()[1] == '503'
        # ... until --timeout closes them
        for sock in slow[MAX_UPLOADS:]:
            assert sock.recv(4096) == b''
    finally:
        for sock in slow:
            sock.close()
    status, reply = post(server['url'], data, 'signing.mp4')
    assert status == 200 and reply['glosses'] == inference_recognizer(
        server['model'], video).glosses
    assert leftovers(server['tmp']) == []


@pytest.mark.parametrize('stop', [signal.SIGTERM, signal.SIGINT])
def test_uploads_are_removed_when_the_server_stops(checkpoint, tmp_path, stop):
    root = tmp_path / 'server'
    root.mkdir()
    process, port, tmp = start_server(root, checkpoint['path'], checkpoint['example'])
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=60) as sock:
            sock.sendall(b'POST /recognize HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                         b'Content-Length: 100000\r\n\r\n' + b'\0' * 50000)
            deadline = time.monotonic() + 60
            while not leftovers(tmp):
                assert time.monotonic() < deadline, 'the upload never reached the disk'
                time.sleep(0.1)
            process.send_signal(stop)
            assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert os.listdir(tmp) == []
