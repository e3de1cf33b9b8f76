"""The web app's defects found in a real headless Chromium (desktop 1400×1000 and phone 390×844), each
checked in the browser. Screenshots go to test-artifacts/ (look at them: they are the check by eye).

The browser runs with its default (English) locale on purpose: the page must be Chinese anyway."""
from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path

import pytest

from tests.interfaces.test_browser import ask, browser, shot, site, wait  # noqa: F401  (fixtures)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import ElementClickInterceptedException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

DESKTOP = (1400, 1000)
PHONE = (390, 844)
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Visible text outside data (answers, clause text, table cells, charts) must hold no English word;
# allowed: file formats and the names of the systems an evaluation compares (they are names).
SCAN_JS = r"""
const skip = '.kp-text, .kp-table td, .kp-msg, .kp-question, .kp-answer, script, style, svg, code, pre, [role=listbox]';
const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'; };
const words = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
let node;
while ((node = walker.nextNode())) {
  const el = node.parentElement;
  if (!el || el.closest(skip) || !visible(el)) continue;
  for (const w of node.textContent.match(/[A-Za-z][A-Za-z0-9_@\-]*/g) || []) words.push([w, node.textContent.trim().slice(0, 60)]);
}
for (const el of document.querySelectorAll('input[placeholder], textarea[placeholder]')) {
  if (!visible(el)) continue;
  for (const w of el.placeholder.match(/[A-Za-z][A-Za-z0-9_@\-]*/g) || []) words.push([w, el.placeholder]);
}
return words;
"""
ALLOWED = {"API", "JSON", "JSONL", "json", "jsonl", "UTF-8", "MB", "txt", "md", "docx", "pdf", "html", "zip",
           "assistant", "bm25-only", "dense-only", "naive-langchain", "hit@1", "LLM"}

# every element of a container that sticks out of it on the right (the measure table cut off 配合单位)
OVERFLOW_JS = """
const box = arguments[0].getBoundingClientRect();
return Array.from(arguments[0].querySelectorAll('*')).filter(e => {
  const r = e.getBoundingClientRect();
  return r.width > 0 && (r.right > box.right + 1 || r.left < box.left - 1);
}).map(e => e.tagName + ':' + (e.textContent || '').slice(0, 30));
"""
STALE_RETRIES = 5
BARS_JS = "return Array.from(document.querySelectorAll('#kp-chart [aria-roledescription=bar]')).map(e => e.getAttribute('aria-label'))"


def open_app(driver, url: str, size: tuple[int, int]) -> None:
    driver.set_window_size(*size)
    driver.get(url)
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#kp-question textarea"), 60, "the page did not load")


def tab(driver, label: str) -> None:
    """Open a tab; on the phone the tabs that do not fit are in Gradio's overflow menu (…)."""
    for _ in range(STALE_RETRIES):
        try:
            return _open_tab(driver, label)
        except StaleElementReferenceException:  # Gradio re-rendered the tab bar while it was read
            time.sleep(0.5)
    return _open_tab(driver, label)


def _open_tab(driver, label: str) -> None:
    shown = [b for b in driver.find_elements(By.CSS_SELECTOR, "button[role=tab]") if b.is_displayed() and b.text.strip() == label]
    if shown:
        shown[0].click()
    else:
        driver.find_element(By.CSS_SELECTOR, "button[aria-label='More tabs']").click()
        item = wait(driver, lambda d: next((b for b in d.find_elements(By.TAG_NAME, "button")
                                            if b.is_displayed() and b.text.strip() == label and b.get_attribute("role") != "tab"), None), 10, f"no {label} in the menu")
        item.click()
    wait(driver, lambda d: any(b.get_attribute("aria-selected") == "true" and b.get_attribute("textContent").strip() == label
                               for b in d.find_elements(By.CSS_SELECTOR, "button[role=tab]")), 10, f"tab {label} did not open")


def click(element) -> bool:
    try:
        element.click()
    except ElementClickInterceptedException:  # a loading overlay over it
        return False
    return True


def pick(driver, elem_id: str, text: str) -> None:
    """Choose the option of a dropdown that holds `text` (typed over whatever it shows)."""
    box = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input")
    wait(driver, lambda d: click(box), 60, f"{elem_id} stays covered (the page is still loading)")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    box.send_keys(text)
    option = wait(
        driver,
        lambda d: next((li for li in d.find_elements(By.CSS_SELECTOR, "ul[role=listbox] li") if text in li.text), None),
        15,
        f"no option {text} in {elem_id}",
    )
    option.click()


def bar_values(driver) -> list[tuple[str, str, float]]:
    """(indicator, y field, value) of every bar the chart draws, from the bars' own aria labels."""
    out = []
    for label in driver.execute_script(BARS_JS):
        fields = dict(part.split(": ", 1) for part in label.split("; "))
        y = next(k for k in fields if k.startswith("目标值"))
        out.append((fields["指标"], y, float(fields[y].replace(",", ""))))
    return out


def test_goals_chart_bars_follow_the_unit(site, browser):
    url, _ = site
    driver = browser
    open_app(driver, url, DESKTOP)
    tab(driver, "目标")
    wait(driver, lambda d: bar_values(d), 30, "no bars")
    first = bar_values(driver)
    assert {y for _, y, _ in first} == {"目标值（家）"} and ("有效高新技术企业", "目标值（家）", 3500.0) in first
    pick(driver, "kp-unit", "%")
    wait(driver, lambda d: {y for _, y, _ in bar_values(d)} == {"目标值（%）"}, 30, "the bars did not switch to %")
    # the plotted values are the % indicators, not the previous unit's numbers under a new title
    assert sorted(v for _, _, v in bar_values(driver)) == [2.0, 4.5, 54.0, 56.0]
    time.sleep(0.5)
    shot(driver, "ui-01-goals-percent")
    pick(driver, "kp-unit", "家")
    wait(driver, lambda d: sorted(v for _, _, v in bar_values(d)) == sorted(v for _, _, v in first), 30, "the bars did not switch back")


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_departments_tab(site, browser, size):
    url, _ = site
    driver = browser
    open_app(driver, url, size)
    tab(driver, "部门")
    pick(driver, "kp-dept", "市委台办")
    view = wait(driver, lambda d: d.find_element(By.ID, "kp-dept-view") if "深化对台人才科创合作" in d.find_element(By.ID, "kp-dept-view").text else None, 15, "no department view")
    for summary in view.find_elements(By.TAG_NAME, "summary"):
        summary.click()
    assert driver.execute_script(OVERFLOW_JS, view) == []

    # the measure picker names the document; the measure table fits, 配合单位 included
    box = driver.find_element(By.CSS_SELECTOR, "#kp-measure input")
    wait(driver, lambda d: click(box), 60, "the measure picker stays covered")
    box.send_keys("四.(五).19")
    option = wait(driver, lambda d: next((li for li in d.find_elements(By.CSS_SELECTOR, "ul[role=listbox] li") if "四.(五).19" in li.text), None), 10, "no option")
    assert "《" in option.text and "人才" in option.text
    option.click()
    measure = wait(driver, lambda d: d.find_element(By.ID, "kp-measure-view") if "配合单位" in d.find_element(By.ID, "kp-measure-view").text else None, 15, "no measure view")
    assert "团市委" in measure.text and "《" in measure.text
    assert driver.execute_script(OVERFLOW_JS, measure) == []
    time.sleep(0.5)
    shot(driver, f"ui-02-departments-{size[0]}")

    # a name that is no department says so
    box = driver.find_element(By.CSS_SELECTOR, "#kp-dept input")
    wait(driver, lambda d: click(box), 60, "the department picker stays covered")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("市宇宙探索局")
    box.send_keys(Keys.ENTER)
    wait(driver, lambda d: "没有找到" in d.find_element(By.ID, "kp-dept-view").text, 15, "no 没有找到 message")
    assert "市宇宙探索局" in driver.find_element(By.ID, "kp-dept-view").text
    shot(driver, f"ui-03-department-unknown-{size[0]}")


def test_knowledge_tab_in_chinese_remove_and_browse(site, browser, tmp_path):
    url, kb = site
    driver = browser
    open_app(driver, url, DESKTOP)
    tab(driver, "知识库")
    upload_text = wait(driver, lambda d: (d.find_elements(By.ID, "kp-upload") or [None])[0], 30, "no upload box").text
    assert "Drop File Here" not in upload_text and "拖放" in upload_text  # Gradio's own texts, in Chinese

    # a bad file: the reason in Chinese, no English or exception names
    empty = tmp_path / "空白.txt"
    empty.write_bytes(b"")
    driver.find_element(By.CSS_SELECTOR, "#kp-upload input[type=file]").send_keys(str(empty))
    status = lambda d: d.find_element(By.ID, "kp-upload-status").text
    wait(driver, lambda d: "未" in status(d) and "空白.txt" in status(d), 60, "no refusal")
    refusal = status(driver)
    assert "空文件" in refusal and not re.search(r"[A-Za-z]{3,}", refusal.replace(".txt", "")), refusal
    shot(driver, "ui-04-upload-refused")

    # a good file next: the previous status is gone
    good = tmp_path / "青年创客.txt"
    good.write_text("关于支持青年创客的若干措施\n一、创客扶持\n1. 对入驻青年创客空间的团队给予三年免租支持。（牵头单位：市人社局；配合单位：市财政局）\n", encoding="utf-8")
    clear = driver.find_elements(By.CSS_SELECTOR, "#kp-upload button[aria-label]")
    for button in clear:  # the 清除 of the file box, when Gradio keeps the refused file shown
        if "清除" in (button.get_attribute("aria-label") or "") or "移除" in (button.get_attribute("aria-label") or ""):
            button.click()
    driver.find_element(By.CSS_SELECTOR, "#kp-upload input[type=file]").send_keys(str(good))
    wait(driver, lambda d: "青年创客" in status(d) and "空白.txt" not in status(d), 10, "the old status stayed")
    wait(driver, lambda d: "已加入知识库" in status(d), 120, "upload not ingested")
    assert "空文件" not in status(driver)
    wait(driver, lambda d: "关于支持青年创客的若干措施" in d.find_element(By.ID, "kp-docs").text, 30, "not listed")

    # browse the plan's clauses with their ids
    pick(driver, "kp-doc", "昆山人才科创")
    wait(driver, lambda d: "四.(二).5" in d.find_element(By.ID, "kp-clauses").text, 20, "no clause list")
    shot(driver, "ui-05-clauses")

    # remove the new document: asked first, cancel keeps it, confirm removes it and rebuilds
    pick(driver, "kp-doc", "关于支持青年创客")
    time.sleep(1)  # the pick's own update runs first
    driver.find_element(By.ID, "kp-remove").click()
    wait(driver, lambda d: "确定从知识库删除" in d.find_element(By.ID, "kp-remove-status").text, 10, "no confirmation asked")
    driver.find_element(By.ID, "kp-remove-cancel").click()
    wait(driver, lambda d: "已取消" in d.find_element(By.ID, "kp-remove-status").text, 10, "cancel not acknowledged")
    assert (kb / "青年创客.txt").exists()
    driver.find_element(By.ID, "kp-remove").click()
    confirm = wait(driver, lambda d: (d.find_elements(By.ID, "kp-remove-confirm") or [None])[0] if d.find_elements(By.ID, "kp-remove-confirm") and d.find_element(By.ID, "kp-remove-confirm").is_displayed() else None, 10, "no confirm button")
    shot(driver, "ui-06-remove-confirm")
    confirm.click()
    wait(driver, lambda d: "已删除" in d.find_element(By.ID, "kp-remove-status").text, 120, "not removed")
    assert not (kb / "青年创客.txt").exists() and [p.name for p in kb.iterdir()] == ["kunshan-talent-plan-2022-2025.md"]
    wait(driver, lambda d: "关于支持青年创客的若干措施" not in d.find_element(By.ID, "kp-docs").text, 30, "still listed")
    shot(driver, "ui-07-removed")


def test_chat_cards_links_feedback_and_export(site, browser):
    url, _ = site
    driver = browser
    open_app(driver, url, DESKTOP)
    message = ask(driver, "博士后集聚“双百”行动由谁牵头？")
    cites = message.find_element(By.CSS_SELECTOR, ".kp-cites")
    # one document: its title and 文号 once above the cards, not on each card; the badges explained
    label = cites.find_element(By.CSS_SELECTOR, ".kp-cites-label").text
    assert "均出自" in label and "昆办发〔2022〕67号" in label
    assert all("昆办发" not in c.text for c in cites.find_elements(By.CSS_SELECTOR, ".kp-card"))
    legend = cites.find_element(By.CSS_SELECTOR, ".kp-legend").text
    assert "「引用」" in legend and "「相关」" in legend

    # 👍: the confirmation shows next to the chat, in view
    driver.find_elements(By.CSS_SELECTOR, '#kp-chat button[aria-label="赞"], #kp-chat button[aria-label="Like"]')[-1].click()
    status = wait(driver, lambda d: d.find_element(By.ID, "kp-feedback-status") if "已记录" in d.find_element(By.ID, "kp-feedback-status").text else None, 10, "no confirmation")
    chat_bottom = driver.find_element(By.ID, "kp-chat").rect["y"] + driver.find_element(By.ID, "kp-chat").rect["height"]
    assert 0 <= status.rect["y"] - chat_bottom < 80

    # a long list answer: a few cards shown, the rest folded; [n] of a folded card scrolls to it
    message = ask(driver, "市科技局牵头哪些工作？")
    cards = message.find_elements(By.CSS_SELECTOR, ".kp-card")
    shown = [c for c in cards if c.is_displayed()]
    assert len(cards) > len(shown) and len(shown) <= 3
    for text in [m.text for m in message.find_elements(By.CSS_SELECTOR, ".kp-answer")]:
        for label in re.findall(r"（涉及：([^）]*)）", text):  # the programme names, whole and in balanced quotes
            assert label.count("“") == label.count("”") and label.count("‘") == label.count("’"), label
    refs = message.find_elements(By.CSS_SELECTOR, ".kp-answer .kp-ref")
    hidden = [r for r in refs if not message.find_element(By.CSS_SELECTOR, f".kp-card.kp-c{r.text.strip('[]')}").is_displayed()]
    ref = (hidden or refs)[-1]
    n = ref.text.strip("[]")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", ref)
    ref.click()
    card = message.find_element(By.CSS_SELECTOR, f".kp-card.kp-c{n}")
    wait(driver, lambda d: card.is_displayed(), 5, "the card did not open")
    in_view = "const r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight + 1"
    wait(driver, lambda d: d.execute_script(in_view, card), 5, f"[{n}] did not scroll to its card")
    shot(driver, "ui-08-ref-scrolled")

    # export: a Markdown file with the questions, the answers and the cited clauses with their ids
    driver.find_element(By.ID, "kp-export").click()
    link = wait(driver, lambda d: next((a for a in d.find_elements(By.CSS_SELECTOR, "#kp-export-file a") if a.get_attribute("href")), None), 30, "no export file")
    assert link.get_attribute("href").endswith(".md") or ".md" in link.text
    with NO_PROXY.open(link.get_attribute("href"), timeout=30) as response:
        markdown = response.read().decode("utf-8")
    assert markdown.startswith("# ") and "博士后集聚“双百”行动由谁牵头？" in markdown and "市科技局牵头哪些工作？" in markdown
    assert "条款 四.(二).5" in markdown and "市委人才办" in markdown and "昆办发〔2022〕67号" in markdown
    assert markdown.count("## 第 ") == 2
    shot(driver, "ui-09-exported")


def test_chat_on_the_phone(site, browser):
    url, _ = site
    driver = browser
    open_app(driver, url, PHONE)
    ask(driver, "博士后集聚“双百”行动由谁牵头？")
    message = ask(driver, "那配合单位呢？")
    assert "市教育局" in message.text
    # the chat grows with its messages: nothing inside it scrolls on its own, the page does
    inner = driver.execute_script(
        "return Array.from(document.querySelectorAll('#kp-chat, #kp-chat *')).filter(e => {"
        " const s = getComputedStyle(e); return /(auto|scroll)/.test(s.overflowY) && e.scrollHeight > e.clientHeight + 2; }).length"
    )
    assert inner == 0
    # nothing covers the first message (a label over the chat did)
    first = driver.find_element(By.CSS_SELECTOR, "#kp-chat .kp-question")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", first)
    covered = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); const e = document.elementFromPoint(r.left + 4, r.top + 4);"
        " return !(e === arguments[0] || arguments[0].contains(e) || e.contains(arguments[0]));", first)
    assert not covered
    assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0] + 1  # no sideways scrolling
    shot(driver, "ui-10-phone-chat")


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_no_english_ui_text_in_the_five_tabs(site, browser, size):
    url, _ = site
    driver = browser
    open_app(driver, url, size)
    ask(driver, "博士后集聚“双百”行动由谁牵头？")
    found = {}
    for label in ("问答", "部门", "目标", "知识库", "评测"):
        tab(driver, label)
        time.sleep(1)
        words = [(w, where) for w, where in driver.execute_script(SCAN_JS) if w not in ALLOWED]
        if words:
            found[label] = words
        shot(driver, f"ui-11-scan-{label}-{size[0]}")
    assert found == {}
