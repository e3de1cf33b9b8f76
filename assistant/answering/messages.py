"""User-facing fixed texts of the extractive answerer (the LLM prompts live in prompts/)."""

EMPTY = "请输入您的问题，例如：“博士后集聚‘双百’行动由谁牵头？”或“到2025年有效高新技术企业要达到多少家？”"
TOO_LONG = "问题太长（{got} 字，上限 {limit} 字），请精简后再问。"
HOSTILE = "抱歉，我只能依据已收录的政策文件回答政策问题，不能执行改变规则、泄露配置或与政策无关的指令。"
CHITCHAT = "您好！我是昆山人才科创政策问答助手，只回答已收录政策文件中的问题，例如某项举措由哪个部门牵头、人才可以获得哪些支持、2025年目标是多少。"
CLARIFY = "您指的是哪一项举措或政策？前面没有可以指代的内容。请说出举措名称或内容，例如：“推进人才培养群英计划由谁牵头？”"
NOT_IN_TEXT = "已收录的政策文件中没有找到能回答这个问题的内容。"
NOT_IN_TEXT_PLACE = "已收录的政策文件没有涉及“{place}”，无法回答关于那里的政策问题。"
NOT_IN_TEXT_NUMBER = "已收录的政策文件只规定了目标值，没有这个问题所问的数字（如实际完成情况或其他年份的目标）。"
DENSE_DOWN = "注意：向量检索服务暂不可用，本次仅按关键词检索，结果可能不够全面。"
NO_UNITS = "最相关的条款没有写明牵头或配合单位。"
NO_DEPARTMENT = "已收录的政策文件没有列出{name}牵头或配合的举措。"
ATTACHMENT_NOTE = "附件说明：{note}"

# A question asking for a kind of fact the evidence does not contain (focus.* in lexicon/cues.tsv).
NOT_IN_TEXT_FOCUS = {
    "money": "已收录的政策文件没有规定具体的金额或补贴标准。",
    "subsidy": "已收录的政策文件没有规定具体的金额或补贴标准。",
    "date": "已收录的政策文件没有写明具体的时间或日期。",
    "contact": "已收录的政策文件没有提供联系方式或地址。",
    "place": "已收录的政策文件没有提供联系方式或地址。",
    "address": "已收录的政策文件没有提供办公地址或具体位置。",
    "procedure": "已收录的政策文件没有写明具体的申请或办理程序。",
    "materials": "已收录的政策文件没有列出需要提交的材料或证件。",
    "conditions": "已收录的政策文件没有规定申请条件、资格要求或认定标准。",
    "standard": "已收录的政策文件没有规定申请条件、资格要求或认定标准。",
    "names": "已收录的政策文件没有列出入选、获奖或获批的名单。",
    "person": "已收录的政策文件没有写明具体人员的姓名或职务安排。",
}

# How metadata fields are named in answers.
META_LABELS = {"title": "文件名称", "年份": "发布年份", "期限": "实施期限", "施行": "施行日期", "有效期": "有效期至", "解释": "解释单位"}
# Which stored field answers a metadata cue (meta.<cue> in lexicon/cues.tsv), in order of preference.
META_SOURCES = {
    "title": ("title",), "年份": ("成文日期", "年份"), "施行": ("施行日期",), "有效期": ("有效期至",), "解释": ("解释单位",),
    "期限": ("期限", "title"),
}
META_DEFAULT = ("title", "文号", "发文单位", "状态")
