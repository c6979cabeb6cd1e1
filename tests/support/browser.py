"""A real headless Chromium (Debian's chromium and chromium-driver) driven by Selenium, for browser tests of
the console; each browser gets a fresh profile and reaches nothing but loopback."""
from __future__ import annotations

from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1366,900", "--lang=ja")
SCREENS = Path(__file__).resolve().parents[2] / "docs" / "screens"


def chromium(profile: Path) -> webdriver.Chrome:
    options = Options()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


class Page:
    """The browser on the console at a port: log in, wait for text, click, take a screenshot."""

    def __init__(self, driver: webdriver.Chrome, port: int):
        self.driver, self.base = driver, f"http://127.0.0.1:{port}"

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def login(self, name: str, password: str) -> None:
        self.open("/login")
        self.driver.find_element(By.ID, "name").send_keys(name)
        self.driver.find_element(By.ID, "password").send_keys(password)
        self.driver.find_element(By.ID, "login").click()
        self.wait_for(By.CSS_SELECTOR, "header.top .user")

    def wait_for(self, by: str, what: str, timeout: float = 10):
        return WebDriverWait(self.driver, timeout).until(ready.presence_of_element_located((by, what)))

    def wait_text(self, by: str, what: str, text: str, timeout: float = 10) -> None:
        WebDriverWait(self.driver, timeout).until(ready.text_to_be_present_in_element((by, what), text))

    def click(self, by: str, what: str) -> None:
        WebDriverWait(self.driver, 10).until(ready.element_to_be_clickable((by, what))).click()

    def screenshot(self, name: str) -> Path:
        SCREENS.mkdir(parents=True, exist_ok=True)
        path = SCREENS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path
