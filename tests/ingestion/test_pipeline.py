from __future__ import annotations

from assistant.ingestion.pipeline import guess_title, parse_document
from assistant.retrieval.index import passage_text


def test_a_headline_run_into_the_first_sentence_becomes_the_title():
    body = "工业和信息化部组织开展负压救护车重点生产企业督导检查 2020年2月4日，为做好新型冠状病毒感染的肺炎疫情防控物资保障工作，加强负压救护车生产质量检查工作。"
    assert guess_title(body, "f00d") == "工业和信息化部组织开展负压救护车重点生产企业督导检查"
    assert guess_title("关于做好复工复产的通知\n各区：现将有关事项通知如下。", "f00d") == "关于做好复工复产的通知"
    assert guess_title("为做好疫情防控工作，现就有关事项通知如下，请各单位认真贯彻落实并及时报告执行情况和遇到的问题。", "f00d") == "f00d"


def test_an_untitled_document_embeds_no_file_name():
    doc = parse_document("0013aa11eb73", "为做好疫情防控工作，现就有关事项通知如下，请各单位认真贯彻落实并及时报告执行情况和遇到的问题。")
    assert doc.meta.title == "0013aa11eb73"
    texts = [passage_text(c, doc.meta.title) for c in doc.clauses]
    assert texts and not any("0013aa11eb73" in t for t in texts)
