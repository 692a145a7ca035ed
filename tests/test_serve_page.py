"""The page at `/` in a real headless Chromium (Debian's chromium and chromium-driver, driven by
Selenium): type a review, press the button, read back the label, the probability bars and the
highlighted tokens, and keep a screenshot (test-artifacts/serve_page.png). Skipped, with the reason,
where Chromium or its driver is not installed (`make browser-test` installs both and runs this)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from rnnkit import TextClassifier

from .conftest import SMALL, make_corpus
from .test_serve import free_port

CHROMIUM, DRIVER = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="Chromium and chromedriver are not installed (make browser-test installs them)"
)


def test_a_typed_review_gets_its_label_and_highlighted_tokens(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    bundle = TextClassifier(**SMALL).fit(*make_corpus(240)).save(tmp_path / "reviews")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "rnnkit", "serve", str(bundle), "--port", str(port)])
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,800"):
        options.add_argument(flag)
    browser = None
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        browser = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
        browser.get(f"http://127.0.0.1:{port}/")
        review = "the actor was <b>great</b> and the music was fun"
        browser.find_element(By.ID, "input").send_keys(review)
        browser.find_element(By.ID, "go").click()
        WebDriverWait(browser, 30).until(expected_conditions.text_to_be_present_in_element((By.ID, "label"), "Label"))
        assert browser.find_element(By.ID, "label").text == "Label: pos"
        assert len(browser.find_elements(By.CSS_SELECTOR, "#bars .row")) == 2
        tokens = browser.find_elements(By.CSS_SELECTOR, "#tokens .token")
        top = max(tokens, key=lambda t: float(t.get_attribute("data-score")))
        assert top.text in ("great", "fun")
        assert browser.find_element(By.ID, "tokens").text == review  # the markup stays text
        assert not browser.find_elements(By.CSS_SELECTOR, "#tokens b")
        ARTIFACTS.mkdir(exist_ok=True)
        assert browser.save_screenshot(str(ARTIFACTS / "serve_page.png"))
    finally:
        if browser is not None:
            browser.quit()
        server.terminate()
        server.wait(timeout=20)
