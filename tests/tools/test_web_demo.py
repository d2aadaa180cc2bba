"""tools/demo/web_demo.py end to end in a real headless browser (chromium + selenium)."""
import json
import os.path as osp
import shutil
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


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    """A tiny random model's checkpoint, served by the demo on a free loopback port."""
    root = tmp_path_factory.mktemp('web')
    torch.manual_seed(0)
    model = init_recognizer(CONFIG)
    model.backbone.temporal.weight.data.fill_(0.5)
    checkpoint = str(root / 'tiny.pth')
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'glosses': model.vocab.glosses}}}, checkpoint)
    example = write_video(str(root / 'example.mp4'), 40)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, osp.join(REPO, 'tools', 'demo', 'web_demo.py'), CONFIG, checkpoint,
         '--port', str(port), '--max-mb', '1', '--max-seconds', '3', '--examples', example],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 1200  # a hang guard only
        for line in process.stdout:
            if 'serving at' in line:
                break
            assert time.monotonic() < deadline and process.poll() is None, line
        assert f'http://127.0.0.1:{port}/' in line  # loopback by default
        yield dict(url=f'http://127.0.0.1:{port}/', model=model, root=root, example=example)
    finally:
        process.terminate()
        process.wait(timeout=30)


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


@pytest.mark.slow
def test_upload_shows_glosses_timeline_and_attention(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    video = write_video(str(tmp_path / 'signing.mp4'), 30)
    expected = inference_recognizer(server['model'], video)
    assert expected.glosses, 'a model that says nothing would make this test vacuous'
    browser.get(server['url'])
    glosses, error = submit(browser, video)
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

    # an example of the server's list
    browser.get(server['url'])
    glosses, error = submit(browser, None, button='run-example')
    assert error == ''
    assert glosses == ' '.join(inference_recognizer(server['model'], server['example']).glosses)


@pytest.mark.slow
def test_a_text_file_gets_an_error_on_the_page(server, browser, tmp_path):
    notes = tmp_path / 'notes.txt'
    notes.write_text('these are not frames\n' * 20)
    browser.get(server['url'])
    glosses, error = submit(browser, str(notes))
    assert glosses == ''
    assert 'notes.txt is not a video file' in error


def post(url, body, name):
    request = urllib.request.Request(url + 'recognize', data=body, method='POST',
                                     headers={'X-Filename': name})
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.mark.slow
def test_upload_size_and_duration_are_limited(server, tmp_path):
    status, reply = post(server['url'], b'\0' * (2 * 1024 * 1024), 'big.mp4')
    assert status == 400 and 'uploads up to 1 MB' in reply['error']
    long_video = write_video(str(tmp_path / 'long.mp4'), 100)  # 4 s at 25 fps
    with open(long_video, 'rb') as f:
        status, reply = post(server['url'], f.read(), 'long.mp4')
    assert status == 400 and 'long.mp4 lasts 4 s' in reply['error'] and 'up to 3 s' in reply[
        'error']
