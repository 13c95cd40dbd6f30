#!/usr/bin/env python3
"""Generate the demo knowledge base (PDF / DOCX / Markdown / FAQ CSV), its manifest
and the demo eval set from the content authored in this file.

All company names, rules, numbers and phone numbers are fictional and written for this demo.

Usage:  python data/make_demo_docs.py            (needs reportlab, python-docx, pypdf)
A CJK TrueType font is required to build the PDFs (e.g. apt-get install fonts-wqy-zenhei);
set DEMO_CJK_FONT=/path/to/font.ttf|.ttc to choose one explicitly.
"""
import csv
import io
import json
import os
import re
import sys
import zipfile
from pathlib import Path

DATA = Path(__file__).resolve().parent
KB = DATA / "kb"
EVAL = DATA / "eval" / "demo"
EFFECTIVE = "2026-03-01"
URL_BASE = "https://help.example.com/sop/"

# ---------------------------------------------------------------------------
# Authored documents.  Body mini-markup: "## " = heading 1, "### " = heading 2,
# "- " = list item, "|a|b|" = table row (first row is the header), other lines = paragraphs.
# ---------------------------------------------------------------------------
DOCS = []


def doc(**kw):
    DOCS.append(kw)


doc(id="e-invoice", kb="finance", fmt="pdf", file="e-invoice.pdf",
    title="电子发票开具管理规范", version="V3.2", owner="财务结算部",
    tags=["发票", "电子发票", "普票", "专票", "红冲", "换开"],
    body="""
## 一、总则
### 1.1 适用范围
本规范适用于优选生活商城（以下简称“商城”）自营商品订单的电子发票开具、换开、红冲与下载。第三方店铺商品的发票由店铺自行开具，客服应引导顾客在订单页点击“联系商家”申请，商城不代开。
### 1.2 发票类型
商城目前提供两种电子发票：增值税电子普通发票（简称“普票”）和增值税电子专用发票（简称“专票”）。自2024年7月1日起，商城不再提供纸质发票，所有发票均以电子形式交付，电子发票与纸质发票具有同等法律效力。
## 二、申请条件与开具时间
### 2.1 申请主体
所有在商城完成实付的自营订单均可申请发票。个人和单位均可申请普票；专票仅限已登记为增值税一般纳税人的单位申请，个人及小规模纳税人不可申请专票。
### 2.2 申请时限
顾客可在下单时填写开票信息，也可在订单完成后180天内通过“我的订单—订单详情—申请开票”补开。超过180天的订单系统不再受理开票申请，客服不得手工补开。
### 2.3 开具时间
普票在顾客确认收货后24小时内自动开具；顾客未手动确认收货的，系统在发货后第10天自动确认收货，并在此后24小时内开具。专票在增票资质审核通过且订单确认收货后3个工作日内开具。
### 2.4 开票金额
发票金额以顾客实际支付金额为准，优惠券、满减及积分抵扣部分不计入开票金额；运费按实际收取金额一并开具。使用商城礼品卡支付的部分，因礼品卡售卖时已开具发票，不再重复开具。
### 2.5 拆单订单
因商品分属不同仓库而被拆分的订单，按子订单分别开具发票，顾客会收到多张发票，各张发票合计金额等于订单实付金额。
## 三、发票抬头与税号
### 3.1 个人抬头
个人抬头可填写“个人”或顾客本人姓名，无需填写税号。
### 3.2 单位抬头
单位抬头须填写单位全称及纳税人识别号（即统一社会信用代码，共18位）。税号填写错误的发票可能无法报销，客服应提醒顾客与单位财务核对后再提交。
### 3.3 专票资质
申请专票需在“账户设置—增票资质”中提交单位名称、纳税人识别号、注册地址、注册电话、开户银行及银行账号六项信息，并上传加盖公章的一般纳税人证明材料。资质审核在1至2个工作日内完成，审核通过后同一账号可长期使用。
### 3.4 普票与专票对比
|项目|增值税电子普通发票|增值税电子专用发票|
|申请对象|个人或单位|增值税一般纳税人单位|
|必填信息|抬头；单位须填税号|六项增票资质信息|
|开具时间|确认收货后24小时内|确认收货后3个工作日内|
|能否抵扣进项税|不能|可以|
|换开方式|每个订单可自助换开1次|须联系客服人工处理|
|文件格式|PDF、OFD|OFD，同时提供PDF预览|
## 四、换开与红冲
### 4.1 自助换开
普票开具后发现抬头、税号或发票内容有误的，顾客可在开具之日起30天内于订单详情页申请换开，每个订单限自助换开1次。系统先将原发票红冲，再于2个工作日内开具新发票。
### 4.2 人工换开
超出自助次数、超过30天或需将普票改为专票的，由客服提交“发票换开工单”，财务专员在3个工作日内处理。专票换开须由购买方先在电子税务局确认红字发票信息，财务收到确认后再开具新票，整体时效约5个工作日。
### 4.3 退货退款时的红冲
整单退款的订单，系统在退款完成后自动红冲原发票，顾客无需操作。部分退款的订单，系统先红冲原发票，再于48小时内按剩余实付金额重新开具。已将专票用于进项抵扣的单位顾客，须配合确认红字发票信息，确认完成前退款暂缓处理。
## 五、发票下载与查询
### 5.1 下载路径
发票开具后，顾客可在“我的订单—订单详情—查看发票”中下载PDF或OFD格式文件；系统同时会将发票发送至顾客预留的邮箱，邮件中的下载链接有效期为30天。
### 5.2 未收到发票邮件
顾客反映未收到发票邮件时，客服应先核对邮箱地址是否正确，并提醒顾客查看垃圾邮件箱；如需改发至其他邮箱，可在发票详情页点击“重新发送”，每天最多发送5次。发票真伪可在国家税务总局全国增值税发票查验平台查验。
### 5.3 客服注意事项
客服不得以任何理由承诺开具与实际交易不符的发票，包括修改商品名称、拆分或合并金额等；遇到此类要求，应礼貌拒绝并说明商城须依法如实开票。
""")

doc(id="payment-issues", kb="finance", fmt="docx", file="payment-issues.docx",
    title="支付问题处理规范", version="V2.5", owner="财务结算部",
    tags=["支付", "扣款", "重复扣款", "分期", "花呗", "退款到账"],
    body="""
## 一、支付方式与付款时限
### 1.1 支持的支付方式
商城支持支付宝、微信支付、银行卡快捷支付（储蓄卡与信用卡）、云闪付以及商城礼品卡。同一订单最多可组合使用礼品卡和一种其他支付方式。
### 1.2 付款时限
订单提交后需在30分钟内完成支付，超时系统自动取消订单并释放库存；秒杀及限时抢购订单的付款时限为15分钟。
## 二、支付失败处理
### 2.1 常见原因
支付失败的常见原因包括：银行卡余额或信用额度不足、超过银行单笔或单日限额、支付渠道风控拦截、网络中断，以及订单已超时关闭。
### 2.2 处理步骤
客服应按以下顺序处理：先请顾客确认订单是否仍为“待付款”状态；再建议顾客等待5分钟后重试或更换支付方式；如页面提示“交易存在风险”，请顾客联系发卡银行或支付平台客服解除限制。商城无法查询或修改顾客的银行限额，客服不得要求顾客提供银行卡密码或短信验证码。
### 2.3 已扣款但订单未支付
顾客已被扣款但订单仍显示“待付款”的，通常是支付结果回传延迟（俗称“掉单”），系统会在15分钟内自动同步。超过30分钟仍未同步的，客服应收集支付截图与交易单号，提交“支付异常工单”。若订单已因超时关闭，该笔款项将在24小时内原路退回，无需顾客申请。
## 三、重复扣款
### 3.1 自动退回
同一订单被重复扣款时，系统每日自动对账，多扣的款项在1至3个工作日内原路退回。
### 3.2 人工处理
顾客反映重复扣款超过3个工作日仍未退回的，客服提交“重复支付工单”，并附上两笔交易的支付流水号，财务结算部在2个工作日内核实并发起退款。退款到账时间以本规范第五章的渠道时效为准。
## 四、分期付款
### 4.1 花呗分期
单笔订单实付满600元可使用花呗分期，支持3期、6期、12期。带有“分期免息”标识的商品可享受3期或6期免息；12期及未带标识商品的手续费由花呗按其费率收取，商城不承担。
### 4.2 信用卡分期
单笔订单实付满500元可使用信用卡分期，目前支持招商银行、建设银行、工商银行、交通银行四家银行，分期期数与手续费以发卡银行页面展示为准。
### 4.3 分期订单退款
分期订单发生退款时，商城将款项退回至分期渠道，由花呗或发卡银行按剩余本金调整或取消后续分期；已收取的分期手续费是否退还以支付机构规则为准，客服不得对手续费退还作出承诺。
## 五、退款到账时效
### 5.1 起算时间
退款审核通过后，商城在24小时内向支付渠道发起退款，下表时效自发起退款之时起算。
|支付渠道|退回去向|到账时效|
|支付宝|支付宝余额|实时到账，最长2小时|
|支付宝|绑定的银行卡|1至3个工作日|
|花呗|花呗额度|实时恢复额度；已还款部分退回支付宝余额|
|微信支付|微信零钱|实时到账，最长2小时|
|微信支付|绑定的银行卡|1至5个工作日|
|银行卡快捷支付|储蓄卡|3至7个工作日|
|银行卡快捷支付|信用卡|3至15个工作日，以银行入账为准|
|云闪付|原支付银行卡|1至7个工作日|
|商城礼品卡|礼品卡余额|实时退回|
### 5.2 超时未到账
超过上表时效仍未到账的，客服可在订单详情中查询退款流水号，请顾客凭流水号向银行或支付平台查询；确认商城未成功发起的，提交“退款异常工单”，财务结算部在1个工作日内处理。
### 5.3 大额退款
单笔退款金额在5000元及以上的，须经财务专员二次复核，复核在1个工作日内完成，复核期间订单状态显示“退款审核中”。
""")

doc(id="returns-refunds", kb="support", fmt="md", file="returns-refunds.md",
    title="退货退款服务规范", version="V3.2", owner="客服运营部",
    tags=["退货", "退款", "7天无理由", "换货", "退货运费"],
    body="""
## 一、适用范围
### 1.1 适用商品
本规范适用于优选生活商城自营商品的退货、换货与退款处理。第三方店铺商品以店铺公示的售后政策为准，但不得低于本规范规定的7天无理由退货标准。
### 1.2 相关规范
退款到账时效见《支付问题处理规范》，超过换货期限的故障商品见《售后维修服务规范》。
## 二、七天无理由退货
### 2.1 申请时限
支持“7天无理由退货”的商品，顾客自签收次日起7天内可申请退货，无需说明理由。商品详情页标注“不支持7天无理由退货”的除外。
### 2.2 商品条件
退回商品应保持完好、不影响二次销售：商品本身无使用痕迹、无人为损坏；配件、说明书、保修卡齐全；赠品一并退回；原包装完整。电子产品外包装塑封被拆开不视为影响二次销售，但手机、平板电脑、笔记本电脑一经激活即不再适用无理由退货。
### 2.3 不适用无理由退货的商品
以下商品不适用7天无理由退货：
- 定制类商品，如按尺寸定制的窗帘和家具；
- 鲜活易腐类商品；
- 已拆封的个人护理用品，如电动牙刷刷头、剃须刀刀头、耳机耳塞套；
- 拆封后的贴身衣物，以及拆封后的枕芯、被芯；
- 已激活的手机、平板电脑和笔记本电脑；
- 虚拟商品，如话费充值、礼品卡、软件激活码；
- 已安装的大家电，未安装且包装完好的可以退货。
### 2.4 赠品处理
整单退货时赠品须一并退回；赠品缺失或损坏的，按赠品页面标注的价值从退款中扣除。部分退货且不影响赠品获取条件的，赠品无需退回。
## 三、质量问题退换货
### 3.1 退换货时限
商品存在质量问题的，顾客自签收次日起7天内可选择退货或换货，15天内可选择换货；超过15天的，按《售后维修服务规范》申请保修。
### 3.2 凭证要求
顾客需提供能清楚显示问题的照片或视频；电子产品可由售后检测中心出具检测结论，检测在收到商品后48小时内完成。
## 四、退货运费
### 4.1 无理由退货
无理由退货的寄回运费由顾客承担。订单含“退货包运费”服务的，顾客可免费预约上门取件。
### 4.2 质量问题及商城原因
因质量问题、发错货、漏发或商品与描述不符而退货的，运费由商城承担。顾客可选择免费上门取件；自行寄回的，请先垫付运费并在申请单中上传运费凭证，商城在退货签收后48小时内以账户余额形式补偿，补偿金额按实际运费计算，最高25元。
### 4.3 会员免费取件
金卡会员每月享2次、钻石会员每月享5次免费上门取件，无理由退货也可使用，详见《会员与积分规则》。
## 五、退货流程与退款
### 5.1 申请与寄回
顾客在“我的订单”提交退货申请，系统或客服在24小时内审核。审核通过后，顾客须在7天内寄出商品并填写运单号，逾期未填写的申请将自动关闭。
### 5.2 退款时效
仓库签收退货后48小时内完成质检，质检通过后24小时内发起退款，到账时间因支付渠道而异。未发货订单申请退款的，审核通过后立即发起退款。
### 5.3 退款金额
退款金额为该商品的实际支付金额；使用优惠券的订单按商品金额比例分摊优惠后退款。整单退货且优惠券仍在有效期内的，优惠券退回账户；部分退货的，优惠券不予退回。积分抵扣部分以积分形式退回。
### 5.4 驳回情形
质检发现商品被调包、存在人为损坏或配件缺失的，退货申请将被驳回，商品寄回顾客，寄回运费由顾客承担。客服应在驳回时附上质检照片并说明原因。
""")

doc(id="logistics-delivery", kb="support", fmt="pdf", file="logistics-delivery.pdf",
    title="物流配送服务规范", version="V2.8", owner="物流管理部",
    tags=["物流", "配送时效", "运费", "偏远地区", "拒收", "丢件"],
    body="""
## 一、仓库与发货时间
### 1.1 发货仓库
商城在上海嘉定、广州增城、成都双流、北京大兴设有四个自营仓库，系统根据收货地址自动选择距离最近且有库存的仓库发货。
### 1.2 发货时间
每日16:00前支付的现货订单当日发货，16:00后支付的次日发货；大件商品（冰箱、洗衣机、空调、沙发等）在支付后48小时内发货。预售商品以商品页面公示的发货时间为准。
## 二、合作承运商
### 2.1 承运商分配
普通包裹默认由中通快递或韵达快递承运；订单实付金额满2000元或含手机、笔记本电脑的订单默认使用顺丰速运；发往新疆、西藏的包裹使用中国邮政EMS；大件商品由合作大件物流服务商送货上门。
### 2.2 指定快递
顾客可在结算页加付12元将普通包裹升级为顺丰速运，大件商品不支持指定承运商。
## 三、配送时效与运费
### 3.1 配送时效
配送时效自发货之日起计算，遇大促、恶劣天气或交通管制可能延长。各区域参考时效如下：
|收货区域|包含省份（示例）|普通包裹时效|大件商品时效|
|江浙沪皖|上海、江苏、浙江、安徽|1至2天|2至4天|
|华南、华北|广东、广西、福建、北京、天津、河北、山东|2至3天|3至5天|
|华中、西南|湖北、湖南、河南、四川、重庆、云南、贵州|2至4天|3至6天|
|东北、西北|辽宁、吉林、黑龙江、陕西、甘肃、宁夏|3至5天|5至8天|
|偏远地区|新疆、西藏、青海、内蒙古西部|5至10天|10至15天|
### 3.2 运费标准
非偏远地区订单实付满99元包邮，不满99元收取运费8元；偏远地区订单实付满199元包邮，不满199元收取运费20元。大件商品非偏远地区包邮，偏远地区大件运费按商品页面报价收取。
## 四、签收与拒收
### 4.1 签收要求
顾客应当面检查外包装，外包装明显破损、浸湿或变形的，可当场拒收。单价3000元及以上的商品须由收件人本人凭取件码签收，不得投放快递柜或驿站。包裹被放入快递柜或驿站的，请顾客在3天内取件，逾期可能被退回。
### 4.2 拒收处理
拒收包裹退回仓库后，仓库在签收后48小时内完成清点，并按退货流程发起退款。因外包装破损或商品质量问题拒收的，运费由商城承担；非质量原因拒收视同无理由退货，退回运费由顾客承担，普通包裹按每单10元从退款中扣除，大件商品按实际发生的运费扣除。
## 五、异常件处理
### 5.1 物流停滞
物流信息超过72小时未更新的，客服应提交“物流查件工单”，物流管理部在24小时内联系承运商核实并回复顾客。
### 5.2 包裹丢失
物流信息超过7天未更新且承运商无法找回的，判定为包裹丢失。商城按顾客意愿在24小时内重新发货或全额退款，顾客无需等待承运商的理赔结果。
### 5.3 破损与少件
签收后发现商品破损或少件的，顾客须在签收后48小时内联系客服并提供开箱照片或视频；逾期反馈的，按一般售后流程处理。
### 5.4 显示签收但未收到
物流显示已签收但顾客表示未收到的，客服应在24小时内联系配送员核实签收情况；核实为误签或冒签的，按包裹丢失处理。
""")

doc(id="order-change-cancel", kb="support", fmt="md", file="order-change-cancel.md",
    title="订单修改与取消规范", version="V2.1", owner="客服运营部",
    tags=["订单", "修改地址", "取消订单", "拆单", "预售"],
    body="""
## 一、订单状态
### 1.1 状态定义
商城订单依次经历“待付款”“待发货”“配货中”“已出库”“运输中”“已签收”“已完成”七个状态。订单能否修改或取消，取决于订单当前所处的状态。
### 1.2 各状态可办理事项
|订单状态|修改收货地址|取消订单|处理方式|
|待付款|可以|可以|顾客自助操作，立即生效|
|待发货|可以，限自助修改1次|可以|顾客自助操作，退款立即发起|
|配货中|需人工审核|需人工审核|提交申请后30分钟内反馈结果|
|已出库及之后|不可在系统修改|不可取消|联系承运商改派，或签收后申请退货|
## 二、修改订单信息
### 2.1 修改收货地址
订单处于“待付款”或“待发货”状态时，顾客可在订单详情页点击“修改地址”自助修改，“待发货”订单限自助修改1次。修改后的地址若导致发货仓库或运费变化，系统将提示顾客补付差额或退还差额。
### 2.2 已出库订单改地址
订单已出库的，系统不能再修改地址。同城改派可由客服联系承运商免费办理；跨城市改派按承运商标准收取改派费用，由顾客承担；大件商品出库后不支持跨城市改派。
### 2.3 修改商品、规格或数量
已付款订单不支持修改商品、颜色、尺码或数量。顾客需要调整的，应先取消原订单再重新下单；原订单享受的优惠活动可能因库存不足或活动结束而无法再次享受，客服应提前告知顾客。
### 2.4 修改收货人与电话
收货人姓名和手机号的修改规则与收货地址相同。为保障账户安全，客服不得根据第三方来电修改收货信息，须由下单账号本人在线操作或通过在线客服提交。
## 三、取消订单
### 3.1 自助取消
“待付款”订单可随时取消；“待发货”订单可自助取消，退款立即发起。
### 3.2 配货中订单
订单进入“配货中”后，顾客提交的取消申请需由仓库拦截，系统在30分钟内反馈结果；拦截失败的，订单将正常发出，顾客可直接拒收，或在签收后按无理由退货处理。
### 3.3 已出库订单
已出库订单不可取消。顾客不需要商品的，可在配送时拒收，或签收后申请退货，相关运费规则见《物流配送服务规范》和《退货退款服务规范》。
### 3.4 预售订单
预售订单的定金在顾客取消时不予退还，因商城原因无法发货的除外；尾款支付期结束前未支付尾款的，订单自动取消。
### 3.5 取消后的优惠券与积分
订单取消后，未过期的优惠券在1小时内退回账户，已过期的优惠券不予退回；抵扣使用的积分在取消后即时退回。
## 四、拆单订单
### 4.1 拆单规则
同一订单中的商品位于不同仓库，或属于不同发货时效（如现货与预售）时，系统自动拆分为多个子订单，每个子订单单独发货，并拥有独立的物流单号。
### 4.2 拆单后的操作
子订单可单独取消、单独申请售后；满减及优惠券按各子订单商品金额比例分摊。取消部分子订单后，剩余金额不再满足满减条件的，已享受的满减优惠将从退款中相应扣回。
### 4.3 合并订单
商城不支持将多个已支付订单合并发货，也不支持将已拆分的子订单重新合并。
""")

doc(id="membership-points", kb="support", fmt="docx", file="membership-points.docx",
    title="会员与积分规则", version="V4.0", owner="会员运营部",
    tags=["会员", "等级", "成长值", "积分", "积分抵扣", "积分过期"],
    body="""
## 一、会员等级
### 1.1 成长值
顾客每实付1元获得1点成长值，发生退款时相应扣减。会员等级依据近12个月累计的成长值确定，每月1日零点重新评定。
### 1.2 等级与权益
|会员等级|近12个月成长值|积分倍率|生日礼券|免费上门取件|专属服务|
|普通会员|0至999|1倍|无|无|无|
|银卡会员|1000至4999|1.2倍|20元|无|无|
|金卡会员|5000至19999|1.5倍|50元|每月2次|优先接入人工客服|
|钻石会员|20000及以上|2倍|100元|每月5次|专属客服经理|
### 1.3 生日礼券
生日礼券在会员生日当月1日自动发放，当月有效，使用门槛为订单实付满199元。生日信息每年仅可修改1次。
### 1.4 等级调整
等级评定时成长值不足当前等级标准的，自动调整为对应等级，不设保级期。
## 二、积分获取
### 2.1 购物积分
每实付1元获得1个基础积分，再乘以会员等级对应的积分倍率，不足1积分的部分舍去。运费和礼品卡购买金额不产生积分。
### 2.2 到账时间
购物积分在订单确认收货满7天后到账，以便退货期内发生退款时准确扣减。
### 2.3 其他积分
每日签到可得2积分，连续签到7天额外奖励10积分；发表带图评价且字数不少于20字可得10积分，每月通过评价最多获得100积分。
## 三、积分使用
### 3.1 抵扣规则
积分可在结算时抵扣现金，100积分抵扣1元。账户积分满1000时方可使用，抵扣以100积分为单位，每笔订单的积分抵扣金额不超过订单实付金额的30%。
### 3.2 不可抵扣范围
积分不可用于抵扣运费，不可用于购买礼品卡、话费充值等虚拟商品，也不可用于标有“积分不可用”的活动商品。
### 3.3 积分兑换
积分可在“积分商城”兑换优惠券和指定商品，兑换成功后不可撤销，兑换所得优惠券的有效期为30天。
## 四、积分有效期与扣减
### 4.1 有效期
积分有效期为自获得之日起至次年12月31日，即当年获得的积分在次年年底清零。积分到期前30天，系统通过短信和站内信提醒顾客。
### 4.2 退款扣减
发生退货退款时，该订单获得的积分将被扣回；账户积分不足的，不足部分按100积分折合1元从退款金额中扣除。订单中用于抵扣的积分按原路退回账户，有效期不变。
### 4.3 异常积分
通过虚假交易、恶意退货等方式获取的积分，商城有权冻结或清零，并可视情节暂停会员权益。积分不可转让，不可提现。
""")

doc(id="warranty-repair", kb="support", fmt="pdf", file="warranty-repair.pdf",
    title="售后维修服务规范", version="V2.3", owner="售后服务部",
    tags=["保修", "维修", "寄修", "上门", "保修期", "保外维修"],
    body="""
## 一、保修政策
### 1.1 保修起算
保修期自顾客签收商品之日起计算，以物流签收记录为准；无签收记录的，以电子发票开具日期为准。顾客报修时须提供订单号或电子发票作为购买凭证。
### 1.2 各品类保修期
|商品品类|整机保修期|主要部件保修期|服务方式|
|手机、平板电脑|1年|电池6个月|寄修|
|笔记本电脑|1年|主板、CPU 2年|寄修|
|耳机、智能穿戴|1年|电池6个月|寄修|
|大家电（冰箱、洗衣机、空调）|3年|压缩机、电机6年|上门|
|厨房及生活小家电|1年|无|寄修|
|家具|2年|无|上门|
|家居日用（锅具、收纳等）|6个月|无|寄修|
|充电器、数据线等配件|3个月|无|寄修|
品牌厂商提供更长保修期的，以厂商政策为准，商城协助顾客对接厂商服务网点。
### 1.3 换新规定
签收后15天内出现性能故障的，经检测确认后可直接换新，与《退货退款服务规范》中15天内质量问题换货的规定一致。保修期内同一部件因同一故障维修2次后仍无法正常使用的，可为顾客更换同型号新品；同型号停产的，可更换同等价位商品或按发票金额退款。
## 二、寄修服务
### 2.1 寄修流程
顾客在“我的订单—申请售后—维修”提交申请，系统生成寄修单号。顾客可选择免费上门取件，也可自行寄至苏州售后维修中心；保修期内的寄修往返运费由商城承担，保修期外的寄出运费由顾客承担。
### 2.2 维修时效
维修中心签收后48小时内完成检测，检测后7个工作日内完成维修并寄回；需要向厂商调配零件的，最长不超过15个工作日，客服应主动向顾客同步进度。
### 2.3 数据备份
送修前请顾客自行备份数据，并退出设备上登录的账号、关闭设备锁。维修过程中可能清除设备数据，商城不承担数据丢失的责任。
## 三、上门服务
### 3.1 适用范围与时效
大家电和家具提供上门检测与维修。城区地址在提交申请后48小时内上门，县乡地址72小时内上门，偏远地区以服务商预约时间为准。
### 3.2 上门收费
保修期内上门服务免费；保修期外收取上门费50元，维修所需配件费和工时费按报价收取，顾客确认后再维修。
## 四、保修除外与保外维修
### 4.1 保修除外情形
以下情形不在免费保修范围内：
- 人为损坏，如摔落、挤压、进液（标称防水的商品在防水等级范围内进水除外）；
- 未经授权的拆机、改装或维修；
- 超过保修期；
- 产品序列号、保修标签被撕毁或与订单记录不符；
- 使用非原装配件或不当电源导致的故障；
- 地震、火灾、雷击等不可抗力造成的损坏；
- 电池、滤芯、刷头等易耗件在正常使用中的自然损耗。
### 4.2 保外维修
保外维修检测免费。维修中心出具报价后，顾客须在7天内确认是否维修；逾期未确认的，商品原样寄回，寄回运费由顾客承担。保外维修更换的配件享受90天保修。
""")

doc(id="agent-service-standards", kb="support", fmt="docx", file="agent-service-standards.docx",
    title="客服服务规范", version="V5.1", owner="客服运营部",
    tags=["服务规范", "响应时效", "SLA", "升级", "补偿", "礼仪"],
    body="""
## 一、服务时间与渠道
### 1.1 服务时间
在线客服服务时间为每日8:00至24:00；电话客服热线400-820-6688服务时间为每日9:00至21:00。非服务时间收到的留言和邮件，在次日服务开始后2小时内处理。
### 1.2 服务渠道
顾客可通过商城App与网页的在线客服、电话热线、售后工单和客服邮箱联系商城。同一问题在多个渠道重复咨询的，以最早建立的工单为主单，其他记录关联到主单，避免重复处理。
## 二、服务响应时效
### 2.1 时效标准
|服务渠道|首次响应时效|处理时效|
|在线客服|顾客接入后30秒内|会话内答复；需核实的问题2小时内回访|
|电话客服|振铃20秒内接听|通话中答复；需核实的问题4小时内回电|
|售后工单|提交后4个工作小时内受理|48小时内给出处理结果|
|客服邮箱|24小时内回复|72小时内给出处理结果|
|投诉|2小时内联系顾客|3个工作日内结案|
### 2.2 会话管理
在线会话中顾客3分钟未回复的，客服发送一次提醒；提醒后5分钟仍未回复的，可结束会话并推送满意度评价。
## 三、沟通礼仪
### 3.1 基本要求
称呼顾客时使用“您”，开场白统一为“您好，优选生活商城客服，很高兴为您服务”。回复应准确、简洁，避免连续发送三条以上未回答实质问题的话术。
### 3.2 禁用语
客服不得使用“不知道”“这不归我管”“你自己看”“系统就是这样”等推诿或生硬的表达，不得与顾客争辩，不得在会话中评价顾客。
### 3.3 信息安全
客服不得索要顾客的支付密码、银行卡密码或短信验证码；对外展示手机号时须隐藏中间四位，例如138****5678；不得将顾客信息发送至个人社交账号。
### 3.4 承诺边界
客服只能依据现行规范作出答复，不得承诺规范以外的退款、赔偿或时效；无法当场确定的问题，应告知顾客核实所需时间，并按时回复。
## 四、补偿权限
### 4.1 补偿额度
因商城原因给顾客造成损失或不良体验的，可按以下权限发放补偿：一线客服每单可发放不超过20元的无门槛优惠券；客服组长可审批不超过100元的补偿；超过100元或涉及现金赔偿的，须经客服主管审批。
### 4.2 发放要求
同一订单累计补偿不得超过订单实付金额的20%，所有补偿均须在工单中记录原因和审批人。
## 五、问题升级
### 5.1 升级层级
问题按三级处理：一线客服（L1）处理常规咨询；专家组（L2）处理跨部门协调、金额在500元及以上的争议以及连续两次未解决的问题；客服主管（L3）处理投诉升级、媒体曝光风险及法律纠纷。
### 5.2 必须立即升级的情形
以下情形客服须在30分钟内升级至L3，并同时通知法务部：顾客明确表示将向12315或市场监管部门投诉；顾客提及将向媒体曝光；涉及人身伤害或商品安全事故，例如电器起火、漏电。
### 5.3 质量考核
客服满意度月度目标为不低于95%，首次解决率目标为不低于85%；质检组每月对每名客服抽检不少于20通会话。
""")

doc(id="international-shipping-returns", kb="support", fmt="md", file="international-shipping-returns.md",
    title="International Shipping and Returns Policy", version="V1.4", owner="国际业务部",
    tags=["international", "shipping", "returns", "customs", "refund"], lang="en",
    body="""
## 1. Scope
### 1.1 Who this policy applies to
This policy applies to orders placed on YouXuan Mall (优选生活商城) that are delivered to an address outside the Chinese mainland. Only self-operated products marked "Ships Internationally" on the product page are eligible. Orders delivered within the Chinese mainland are covered by the Chinese-language service SOPs.
### 1.2 Destinations
We currently ship to Hong Kong SAR, Macao SAR, Singapore, Malaysia, Japan, South Korea, Australia and Canada. We do not ship to other countries or regions at this time.
## 2. Shipping
### 2.1 Processing time
International orders are packed and handed to the carrier within 2 business days after payment. Orders that contain pre-sale items ship when all items are available.
### 2.2 Delivery times and shipping fees
|Destination|Estimated delivery|Shipping fee|Free shipping threshold|
|Hong Kong SAR, Macao SAR|3-5 business days|CNY 30|Orders of CNY 300 or more|
|Singapore, Malaysia|5-8 business days|CNY 80|Orders of CNY 800 or more|
|Japan, South Korea|5-8 business days|CNY 80|Orders of CNY 800 or more|
|Australia, Canada|8-15 business days|CNY 150|Orders of CNY 1,500 or more|
Delivery estimates start on the day the parcel is handed to the carrier and may be longer during holidays or customs inspections.
### 2.3 Items that cannot be shipped internationally
Large appliances, furniture, standalone lithium batteries and power banks, liquids, aerosols and food products cannot be shipped internationally. The checkout page blocks these items automatically.
### 2.4 Customs duties and taxes
Import duties, taxes and customs clearance fees are set by the destination country or region and are paid by the recipient on delivery. YouXuan Mall does not prepay or refund these charges. If a recipient refuses to pay duties, the parcel is treated as a refused delivery (see section 4.3).
### 2.5 Tracking
A tracking number is sent by email once the parcel leaves our Shanghai international warehouse. If tracking shows no update for 10 calendar days, customers may contact support and we will open a trace with the carrier.
## 3. Returns
### 3.1 Return window
Unused items in their original packaging may be returned within 14 days of delivery. The 7-day no-reason return rule for mainland orders does not apply to international orders; the 14-day window in this policy applies instead.
### 3.2 Non-returnable items
Activated phones, tablets and laptops, opened personal care products, customized products and gift cards cannot be returned unless they are defective.
### 3.3 Return shipping
For change-of-mind returns, the customer pays the return shipping and must use a tracked service. For defective, damaged or incorrect items, we provide a prepaid return label or reimburse the return shipping cost up to CNY 200 after receiving the carrier receipt.
### 3.4 How to start a return
Customers submit a return request in "My Orders" and receive a return authorization (RMA) number within 1 business day. Parcels sent without an RMA number may be refused by the warehouse.
## 4. Refunds
### 4.1 Refund timing
Refunds are issued to the original payment method within 10 business days after the returned item passes inspection at our warehouse. Refunds are made in CNY; exchange-rate differences and foreign-transaction fees charged by the customer's bank are not compensated.
### 4.2 What is refunded
The product price is refunded in full. The original international shipping fee is refunded only when the return is caused by a defective, damaged or incorrect item. Duties and taxes are never refunded by YouXuan Mall.
### 4.3 Refused or undeliverable parcels
If a parcel is refused or returned as undeliverable, we refund the product price once the parcel is back in our warehouse, minus the original shipping fee and a return handling fee of CNY 50.
## 5. Warranty and contact
### 5.1 Warranty for international orders
International orders receive the same warranty periods as mainland orders, but repairs are only performed at our Suzhou repair center. The customer pays shipping to the repair center, and we pay the return shipping for in-warranty repairs.
### 5.2 Contact
International customers can reach support by email at intl-support@example.com. Emails are answered within 24 hours, Monday to Saturday.
""")

# ---------------------------------------------------------------------------
# FAQ (support/faq.csv).  Must stay consistent with the SOPs above.
# ---------------------------------------------------------------------------
FAQ_META = dict(id="faq", kb="support", fmt="csv", file="faq.csv", title="常见问题解答（FAQ）",
                version="V2.0", owner="客服运营部", tags=["FAQ", "常见问题"])
FAQ = [
    ("确认收货后多久能收到电子发票？", "普票在您确认收货后24小时内自动开具；未手动确认收货的，系统在发货后第10天自动确认收货，并在此后24小时内开具。"),
    ("个人可以开增值税专用发票吗？", "不可以。专票仅限已登记为增值税一般纳税人的单位申请，个人可以开具电子普通发票。"),
    ("发票抬头写错了还能改吗？", "可以。发票开具之日起30天内，您可在订单详情页申请换开，每个订单限自助换开1次；超过30天或次数已用完，请联系客服人工处理。"),
    ("订单完成多久内可以补开发票？", "订单完成后180天内可在“我的订单—订单详情—申请开票”补开，超过180天不再受理。"),
    ("电子发票在哪里下载？", "在“我的订单—订单详情—查看发票”中下载PDF或OFD文件。发票也会发送到您预留的邮箱，邮件下载链接有效期为30天。"),
    ("可以开纸质发票吗？", "商城自2024年7月1日起不再提供纸质发票，电子发票与纸质发票具有同等法律效力。"),
    ("用了优惠券，发票金额怎么算？", "发票按实际支付金额开具，优惠券、满减及积分抵扣部分不计入开票金额，运费按实际收取金额一并开具。"),
    ("第三方店铺的商品由谁开发票？", "由店铺自行开具，请在订单页点击“联系商家”申请，商城不代开。"),
    ("下单后多久内要付款？", "普通订单需在提交后30分钟内完成支付，秒杀及限时抢购订单为15分钟，超时订单会自动取消。"),
    ("钱已经扣了，订单却显示待付款怎么办？", "一般是支付结果回传延迟，系统会在15分钟内自动同步。超过30分钟仍未同步请联系客服；若订单已超时关闭，款项将在24小时内原路退回。"),
    ("被重复扣款了怎么办？", "系统每日自动对账，多扣的款项会在1至3个工作日内原路退回；超过3个工作日仍未退回的，请联系客服提交重复支付工单。"),
    ("哪些订单可以用花呗分期？", "单笔订单实付满600元可使用花呗分期，支持3期、6期、12期；带“分期免息”标识的商品可享3期或6期免息。"),
    ("信用卡分期支持哪些银行？", "单笔订单实付满500元可使用信用卡分期，支持招商银行、建设银行、工商银行、交通银行。"),
    ("退款退到微信零钱要多久？", "退款发起后实时到账，最长2小时。"),
    ("退款退到信用卡要多久？", "退款发起后3至15个工作日，以银行入账为准。"),
    ("退款退到储蓄卡要多久？", "退款发起后3至7个工作日。"),
    ("支付宝付款的订单，退款多久到账？", "退回支付宝余额的实时到账，最长2小时；退回绑定银行卡的需要1至3个工作日。"),
    ("七天无理由退货怎么计算时间？", "自签收次日起7天内可以申请，商品需保持完好、不影响二次销售。"),
    ("哪些商品不支持七天无理由退货？", "定制类商品、鲜活易腐类商品、已拆封的个人护理用品、拆封后的贴身衣物及枕芯被芯、已激活的手机平板和笔记本电脑、虚拟商品，以及已安装的大家电。"),
    ("无理由退货的运费谁承担？", "无理由退货的寄回运费由顾客承担；金卡和钻石会员可以使用每月的免费上门取件次数。"),
    ("质量问题退货，运费怎么算？", "运费由商城承担。您可以选择免费上门取件；自行寄回的，商城在退货签收后48小时内以账户余额补偿实际运费，最高25元。"),
    ("退货后多久能收到退款？", "仓库签收退货后48小时内完成质检，质检通过后24小时内发起退款，到账时间取决于支付渠道。"),
    ("赠品需要一起退回吗？", "整单退货时赠品须一并退回，赠品缺失或损坏的，按标注价值从退款中扣除。"),
    ("商品有质量问题，超过7天还能换吗？", "签收次日起15天内可选择换货；超过15天请按保修流程申请维修。"),
    ("今天下单什么时候发货？", "每日16:00前支付的现货订单当日发货，16:00后支付的次日发货；大件商品在支付后48小时内发货。"),
    ("买多少钱包邮？", "非偏远地区实付满99元包邮，不满99元收取运费8元；偏远地区实付满199元包邮，不满199元收取运费20元。"),
    ("寄到新疆、西藏要多久？", "普通包裹5至10天，大件商品10至15天，普通包裹由中国邮政EMS承运。"),
    ("可以指定顺丰发货吗？", "普通包裹可在结算页加付12元升级为顺丰速运；实付满2000元或含手机、笔记本电脑的订单默认使用顺丰。大件商品不支持指定承运商。"),
    ("物流好几天没更新了怎么办？", "超过72小时未更新的，客服会提交物流查件工单，24小时内回复您；超过7天未更新且无法找回的按丢失处理，可选择重新发货或全额退款。"),
    ("快递显示已签收，但我没收到怎么办？", "客服会在24小时内联系配送员核实，确认为误签或冒签的，按包裹丢失处理。"),
    ("拒收会扣钱吗？", "因外包装破损或质量问题拒收的不扣费；非质量原因拒收视同无理由退货，普通包裹从退款中扣除10元运费，大件商品按实际运费扣除。"),
    ("付款后还能改收货地址吗？", "“待发货”状态可在订单详情页自助修改1次；“配货中”需人工审核；已出库后只能联系承运商改派。"),
    ("付款后能取消订单吗？", "“待发货”订单可自助取消并立即退款；“配货中”订单需仓库拦截，30分钟内反馈结果；已出库的订单不能取消，可拒收或签收后申请退货。"),
    ("下单后能改颜色或尺码吗？", "已付款订单不支持修改商品、颜色、尺码或数量，请取消后重新下单。"),
    ("取消订单后优惠券还能用吗？", "未过期的优惠券在1小时内退回账户，已过期的不予退回；抵扣的积分即时退回。"),
    ("预售定金能退吗？", "预售订单取消时定金不予退还，因商城原因无法发货的除外。"),
    ("一个订单为什么分成了几个包裹？", "商品位于不同仓库或发货时效不同时，系统会自动拆分为多个子订单分别发货，每个子订单都有独立的物流单号。"),
    ("会员等级怎么升级？", "等级依据近12个月累计成长值确定，每实付1元得1点成长值，每月1日重新评定：银卡1000、金卡5000、钻石20000。"),
    ("积分怎么抵现？", "100积分抵扣1元，账户积分满1000时方可使用，每笔订单抵扣金额不超过实付金额的30%，积分不可用于抵扣运费。"),
    ("积分什么时候过期？", "积分有效期为自获得之日起至次年12月31日，到期前30天会通过短信和站内信提醒。"),
    ("购物积分什么时候到账？", "订单确认收货满7天后到账。"),
    ("手机保修多久？", "手机、平板电脑整机保修1年，电池保修6个月，保修期自签收之日起计算。"),
    ("大家电坏了可以上门修吗？", "可以。城区地址在提交申请后48小时内上门，县乡地址72小时内上门，保修期内上门服务免费。"),
    ("寄修多久能修好？", "维修中心签收后48小时内完成检测，检测后7个工作日内修好寄回；需调配零件的，最长不超过15个工作日。"),
    ("哪些情况不保修？", "人为损坏或进液、私自拆修改装、超过保修期、序列号或保修标签损毁、使用非原装配件导致的故障、不可抗力造成的损坏，以及易耗件的自然损耗。"),
    ("客服的工作时间是什么时候？", "在线客服每日8:00至24:00，电话热线400-820-6688每日9:00至21:00。"),
    ("Do you ship internationally?", "Yes. We ship eligible self-operated items to Hong Kong SAR, Macao SAR, Singapore, Malaysia, Japan, South Korea, Australia and Canada."),
    ("How long do I have to return an international order?", "Unused items in original packaging can be returned within 14 days of delivery."),
    ("How long does a refund take for an international order?", "Refunds are issued to the original payment method within 10 business days after the returned item passes inspection."),
    ("Who pays import duties on international orders?", "Import duties, taxes and clearance fees are paid by the recipient on delivery and are not refunded by YouXuan Mall."),
]

# ---------------------------------------------------------------------------
# Eval queries: (text, answers, gold doc ids, style)
#   style: "" normal, "c" colloquial (typos / no punctuation / mixed zh-en / full-width !?)
#   unanswerable: (text, [], [], style, forbidden keywords that must not occur in the corpus)
# ---------------------------------------------------------------------------
Q = [
    # e-invoice
    ("确认收货后多久能开出电子发票？", ["24小时内"], ["e-invoice", "faq"], ""),
    ("增值税专用发票确认收货后多长时间开具？", ["3个工作日内"], ["e-invoice"], ""),
    ("订单完成很久了还能补开发票吗？期限是多少天？", ["180天内"], ["e-invoice", "faq"], ""),
    ("单位抬头的纳税人识别号一共几位？", ["18位"], ["e-invoice"], ""),
    ("个人可以申请增值税专用发票吗？", ["一般纳税人"], ["e-invoice", "faq"], ""),
    ("发票抬头开错了，多少天内可以自助换开？", ["30天内"], ["e-invoice", "faq"], ""),
    ("发漂开错抬头了咋办 能自己改几次", ["1次"], ["e-invoice", "faq"], "c"),
    ("发票邮件里的下载链接多久失效？", ["30天"], ["e-invoice", "faq"], ""),
    ("用优惠券抵扣的那部分金额会开进发票吗？", ["不计入开票金额"], ["e-invoice", "faq"], ""),
    ("我买的东西拆成两个包裹了 发票是一张还是两张", ["按子订单分别开具发票"], ["e-invoice"], "c"),
    ("How long after I confirm receipt will the e-invoice be issued?", ["24小时内"], ["e-invoice", "faq"], ""),
    ("增票资质审核需要几天？", ["1至2个工作日"], ["e-invoice"], ""),
    ("部分退款以后发票会重新开吗？多久？", ["48小时内"], ["e-invoice"], ""),
    ("还能开纸质发票吗？", ["不再提供纸质发票"], ["e-invoice", "faq"], ""),
    ("发票重新发送到邮箱一天最多能发几次？", ["5次"], ["e-invoice"], ""),
    # payment
    ("下单后多久不付款订单会被自动取消？", ["30分钟"], ["payment-issues", "faq"], ""),
    ("秒杀订单的付款时限是多久？", ["15分钟"], ["payment-issues", "faq"], ""),
    ("钱扣了订单还显示待付款！！怎么回事", ["15分钟内"], ["payment-issues", "faq"], "c"),
    ("被重复扣款了，多扣的钱几天能退回来？", ["1至3个工作日"], ["payment-issues", "faq"], ""),
    ("实付多少钱可以用花呗分期？", ["600元"], ["payment-issues", "faq"], ""),
    ("信用卡分期支持哪几家银行？", ["招商银行、建设银行、工商银行、交通银行"], ["payment-issues", "faq"], ""),
    ("退款退回微信零钱要多长时间", ["最长2小时"], ["payment-issues", "faq"], ""),
    ("信用卡付的款退款多久到账？", ["3至15个工作日"], ["payment-issues", "faq"], ""),
    ("How long does a refund take to reach a debit card?", ["3至7个工作日"], ["payment-issues", "faq"], ""),
    ("退款金额5000多为什么一直显示退款审核中？", ["二次复核"], ["payment-issues"], ""),
    ("支付宝退款到银行卡要几天啊", ["1至3个工作日"], ["payment-issues", "faq"], "c"),
    ("分期订单退款的话手续费退不退？", ["以支付机构规则为准"], ["payment-issues"], ""),
    ("一个订单能同时用礼品卡和微信支付吗？", ["礼品卡和一种其他支付方式"], ["payment-issues"], ""),
    ("支付一直失败，银行卡限额你们能帮我改吗", ["无法查询或修改顾客的银行限额"], ["payment-issues"], "c"),
    # returns
    ("七天无理由退货从哪天开始算？", ["签收次日起7天内"], ["returns-refunds", "faq"], ""),
    ("手机激活了还能七天无理由退吗？", ["一经激活", "已激活的手机"], ["returns-refunds", "faq"], ""),
    ("无理由退货的运费由谁出？", ["由顾客承担"], ["returns-refunds", "faq"], ""),
    ("质量问题自己寄回来的运费最多补多少？", ["25元"], ["returns-refunds", "faq"], ""),
    ("退宽什么时候到 仓库都收到货了", ["48小时内", "24小时内"], ["returns-refunds", "faq"], "c"),
    ("退货审核通过后多久之内必须寄出？", ["7天内"], ["returns-refunds"], ""),
    ("赠品弄丢了还能退货吗？", ["从退款中扣除"], ["returns-refunds", "faq"], ""),
    ("电动牙刷刷头拆封了可以无理由退吗", ["已拆封的个人护理用品"], ["returns-refunds", "faq"], ""),
    ("收到东西第10天发现有质量问题，还能换货吗？", ["15天内可选择换货"], ["returns-refunds", "faq"], ""),
    ("Who pays the return shipping for a no-reason return in mainland China?", ["由顾客承担"], ["returns-refunds", "faq"], ""),
    ("退货refund到支付宝余额多久到账", ["48小时内完成质检", "最长2小时"], ["returns-refunds", "payment-issues"], "c"),
    ("部分退货的话优惠券会退回来吗？", ["优惠券不予退回"], ["returns-refunds"], ""),
    # logistics
    ("几点前付款可以当天发货？", ["16:00前"], ["logistics-delivery", "faq"], ""),
    ("寄到新疆普通包裹要几天？", ["5至10天"], ["logistics-delivery", "faq"], ""),
    ("偏远地区满多少包邮？", ["199元"], ["logistics-delivery", "faq"], ""),
    ("订单不满99元运费多少钱？", ["8元"], ["logistics-delivery", "faq"], ""),
    ("物流三天没更新了怎么办？", ["72小时", "物流查件工单"], ["logistics-delivery", "faq"], ""),
    ("包裹丢了你们怎么处理？", ["重新发货或全额退款"], ["logistics-delivery", "faq"], ""),
    ("不想要了直接拒收，会扣多少运费？", ["10元"], ["logistics-delivery", "faq"], ""),
    ("能指定顺丰吗？要加钱吗", ["12元"], ["logistics-delivery", "faq"], ""),
    ("快地显示签收了但我没收到啊？？", ["24小时内联系配送员"], ["logistics-delivery", "faq"], "c"),
    ("收到货发现少件，多久内要反馈？", ["48小时内"], ["logistics-delivery"], ""),
    ("How long does standard delivery to Beijing take?", ["2至3天"], ["logistics-delivery"], ""),
    ("冰箱啥时候发货啊", ["48小时内发货"], ["logistics-delivery", "faq"], "c"),
    ("5000块的笔记本能放快递柜吗？", ["3000元"], ["logistics-delivery"], ""),
    # order change / cancel
    ("待发货的订单能自己改地址吗？能改几次？", ["1次"], ["order-change-cancel", "faq"], ""),
    ("订单已经出库了还能改地址吗？", ["同城改派", "联系承运商改派"], ["order-change-cancel", "faq"], ""),
    ("配货中的订单申请取消，多久能有结果？", ["30分钟内"], ["order-change-cancel", "faq"], ""),
    ("预售的定金能退吗？", ["不予退还"], ["order-change-cancel", "faq"], ""),
    ("取消订单后优惠券多久退回？", ["1小时内"], ["order-change-cancel", "faq"], ""),
    ("下单选错颜色了能直接改嘛", ["不支持修改商品、颜色、尺码或数量"], ["order-change-cancel", "faq"], "c"),
    ("两个订单可以合并成一个包裹发吗？", ["不支持将多个已支付订单合并发货"], ["order-change-cancel"], ""),
    ("Can I cancel my order after it has left the warehouse?", ["不可取消", "不能取消"], ["order-change-cancel", "faq"], ""),
    # membership / points
    ("金卡会员需要多少成长值？", ["5000至19999", "5000"], ["membership-points", "faq"], ""),
    ("多少积分可以抵1块钱？", ["100积分抵扣1元"], ["membership-points", "faq"], ""),
    ("积分什么时候过期清零？", ["次年12月31日"], ["membership-points", "faq"], ""),
    ("一单最多能用积分抵多少？", ["30%"], ["membership-points", "faq"], ""),
    ("积粉为啥还没到账 我都确认收货了", ["满7天后到账"], ["membership-points", "faq"], "c"),
    ("钻石会员的生日礼券是多少钱？", ["100元"], ["membership-points"], ""),
    ("积分可以抵运费吗？", ["不可用于抵扣运费"], ["membership-points", "faq"], ""),
    ("每天签到能拿几个积分", ["2积分"], ["membership-points"], ""),
    ("How many free return pickups per month does a Gold member get?", ["每月2次"], ["membership-points"], ""),
    ("退货的时候积分不够扣怎么办？", ["从退款金额中扣除"], ["membership-points"], ""),
    # warranty
    ("笔记本电脑的主板保修几年？", ["2年"], ["warranty-repair"], ""),
    ("空调整机保修几年？", ["3年"], ["warranty-repair"], ""),
    ("寄修的话检测完多久能修好？", ["7个工作日内"], ["warranty-repair", "faq"], ""),
    ("手机进水了还能免费保修吗？", ["进液"], ["warranty-repair", "faq"], ""),
    ("保外维修报价出来后要在几天内确认？", ["7天内"], ["warranty-repair"], ""),
    ("洗衣机坏了 能上门修不 多久来", ["48小时内上门"], ["warranty-repair", "faq"], "c"),
    ("过了保修期上门维修收多少上门费？", ["50元"], ["warranty-repair"], ""),
    ("充电器保修多久", ["3个月"], ["warranty-repair"], ""),
    ("Is the warranty period counted from the delivery date?", ["签收商品之日起"], ["warranty-repair"], ""),
    ("保修期内同一个毛病修了两次还是坏，能换新吗", ["更换同型号新品"], ["warranty-repair"], "c"),
    # agent standards
    ("在线客服首次响应时间要求是多少？", ["30秒内"], ["agent-service-standards"], ""),
    ("一线客服最多能给顾客发多少钱的补偿券？", ["20元"], ["agent-service-standards"], ""),
    ("顾客说要去12315投诉，客服该怎么处理？", ["30分钟内升级至L3"], ["agent-service-standards"], ""),
    ("客服热线电话是多少", ["400-820-6688"], ["agent-service-standards", "faq"], ""),
    ("售后工单多久要给出处理结果？", ["48小时内"], ["agent-service-standards"], ""),
    ("顾客3分钟不回消息客服怎么做？", ["发送一次提醒"], ["agent-service-standards"], ""),
    ("客服组长的补偿审批权限是多少", ["100元"], ["agent-service-standards"], ""),
    # international (English policy)
    ("Which countries and regions do you ship to internationally?", ["Hong Kong SAR, Macao SAR, Singapore, Malaysia, Japan, South Korea, Australia and Canada"], ["international-shipping-returns", "faq"], ""),
    ("How many days do I have to return an international order?", ["14 days of delivery"], ["international-shipping-returns", "faq"], ""),
    ("Who pays customs duties on international orders?", ["paid by the recipient"], ["international-shipping-returns", "faq"], ""),
    ("How long does shipping to Australia take?", ["8-15 business days"], ["international-shipping-returns"], ""),
    ("What is the free shipping threshold for Hong Kong?", ["CNY 300"], ["international-shipping-returns"], ""),
    ("寄到新加坡运费多少？", ["CNY 80"], ["international-shipping-returns"], ""),
    ("international order refund 多久到账", ["10 business days"], ["international-shipping-returns", "faq"], "c"),
    ("Can I ship a power bank to Canada?", ["power banks"], ["international-shipping-returns"], ""),
    ("海外订单被拒收，退款要扣多少手续费", ["CNY 50"], ["international-shipping-returns"], ""),
]

UNANSWERABLE = [
    ("你们公司的股票代码是多少？", "", ["股票", "股份代码", "stock"]),
    ("PLUS会员一年多少钱？", "", ["PLUS", "年费"]),
    ("你们有线下门店吗？可以去店里看实物吗？", "", ["门店", "实体店", "线下"]),
    ("商城招不招兼职客服，简历投哪里？", "", ["招聘", "简历", "兼职"]),
    ("买完第二天就降价了，能申请价格保护退差价吗？", "", ["价格保护", "保价", "差价"]),
    ("怎么注销我的商城账号？", "", ["注销"]),
    ("公司要采购100台笔记本，有批发价吗？", "", ["批发", "大客户", "团购"]),
    ("以旧换新活动怎么参加", "c", ["以旧换新", "旧机", "回收"]),
    ("可以帮忙做礼品包装加贺卡吗", "c", ["礼品包装", "贺卡"]),
    ("我就住嘉定 能去仓库自提不", "c", ["自提"]),
    ("Do you offer a student discount?", "", ["student", "学生"]),
    ("What is YouXuan Mall's registered capital?", "", ["registered capital", "注册资本"]),
    ("延保服务怎么买？多少钱？", "", ["延保", "延长保修", "extended warranty"]),
    ("直播间领的券能和满减叠加用吗", "c", ["叠加", "直播"]),
    ("How do I open a seller store on YouXuan Mall?", "", ["seller", "入驻", "开店"]),
    ("发漂能开英文抬头的吗？", "c", ["英文"]),
]


# ---------------------------------------------------------------------------
# Parsing and plain-text rendering
# ---------------------------------------------------------------------------
def is_en(d):
    return d.get("lang") == "en"


def meta_line(d):
    if is_en(d):
        return f"Version: {d['version']}  |  Effective date: {EFFECTIVE}  |  Owner: International Business Department (国际业务部)  |  YouXuan Mall"
    return f"版本：{d['version']}　　生效日期：{EFFECTIVE}　　归口部门：{d['owner']}　　优选生活商城"


def parse(body):
    """-> list of blocks: (kind, payload); kinds h1, h2, p, li, table(rows)."""
    blocks = []
    for line in body.strip().splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("### "):
            blocks.append(("h2", line[4:]))
        elif line.startswith("## "):
            blocks.append(("h1", line[3:]))
        elif line.startswith("- "):
            blocks.append(("li", line[2:]))
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if blocks and blocks[-1][0] == "table":
                blocks[-1][1].append(cells)
            else:
                blocks.append(("table", [cells]))
        else:
            blocks.append(("p", line))
    return blocks


def plain_text(d):
    lines = [d["title"], meta_line(d)]
    for kind, x in parse(d["body"]):
        if kind == "table":
            lines += [" | ".join(r) for r in x]
        else:
            lines.append(x)
    return "\n".join(lines)


def faq_text():
    return "\n\n".join(f"Q: {q}\nA: {a}" for q, a in FAQ)


def cjk_count(s):
    return len(re.findall(r"[\u4e00-\u9fff]", s))


# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------
def write_md(d, path):
    out = [f"# {d['title']}", "", meta_line(d), ""]
    for kind, x in parse(d["body"]):
        if kind == "h1":
            out += [f"## {x}", ""]
        elif kind == "h2":
            out += [f"### {x}", ""]
        elif kind == "li":
            out.append(f"- {x}")
        elif kind == "p":
            if out and out[-1].startswith("- "):
                out.append("")
            out += [x, ""]
        else:
            out.append("| " + " | ".join(x[0]) + " |")
            out.append("|" + "|".join(["---"] * len(x[0])) + "|")
            out += ["| " + " | ".join(r) + " |" for r in x[1:]]
            out.append("")
    text = "\n".join(out).rstrip() + "\n"
    text = re.sub(r"(\n- [^\n]*)\n(#)", r"\1\n\n\2", text)
    path.write_text(text, encoding="utf-8")


def find_cjk_font():
    env = os.environ.get("DEMO_CJK_FONT")
    cands = [Path(env)] if env else []
    cands += [Path(p) for p in (
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    )]
    if not env:
        root = Path("/usr/share/fonts")
        if root.exists():
            cands += sorted(p for p in root.rglob("*") if p.suffix.lower() in (".ttf", ".ttc")
                            and re.search(r"(wqy|zenhei|microhei|droid.*fallback|arphic|uming|ukai)", p.name, re.I))
    for p in cands:
        if p.is_file():
            return p
    sys.exit("ERROR: no CJK TrueType font found under /usr/share/fonts. Install one "
             "(apt-get install -y fonts-wqy-zenhei) or set DEMO_CJK_FONT=/path/to/font.ttf|.ttc")


_PDF_FONT = None


def pdf_font():
    global _PDF_FONT
    if _PDF_FONT is None:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont
        path = find_cjk_font()
        kw = {"subfontIndex": 0} if path.suffix.lower() == ".ttc" else {}
        pdfmetrics.registerFont(TTFont("CJK", str(path), **kw))
        _PDF_FONT = "CJK"
    return _PDF_FONT


def write_pdf(d, path):
    from reportlab import rl_config
    rl_config.invariant = 1  # reproducible bytes (fixed dates / ids)
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    from xml.sax.saxutils import escape

    f = pdf_font()
    base = dict(fontName=f, wordWrap="CJK")
    st = {
        "title": ParagraphStyle("t", fontSize=20, leading=28, alignment=1, spaceAfter=6, **base),
        "meta": ParagraphStyle("m", fontSize=9.5, leading=14, alignment=1, textColor=colors.grey, spaceAfter=10, **base),
        "h1": ParagraphStyle("h1", fontSize=15, leading=22, spaceBefore=12, spaceAfter=6, **base),
        "h2": ParagraphStyle("h2", fontSize=12.5, leading=19, spaceBefore=7, spaceAfter=3, **base),
        "p": ParagraphStyle("p", fontSize=11, leading=19, firstLineIndent=22, spaceAfter=4, **base),
        "li": ParagraphStyle("li", fontSize=11, leading=18, leftIndent=22, bulletIndent=10, **base),
        "cell": ParagraphStyle("c", fontSize=9.5, leading=14, **base),
    }
    story = [Paragraph(escape(d["title"]), st["title"]), Paragraph(escape(meta_line(d)), st["meta"])]
    for kind, x in parse(d["body"]):
        if kind == "table":
            data = [[Paragraph(escape(c), st["cell"]) for c in r] for r in x]
            t = Table(data, repeatRows=1, hAlign="CENTER", colWidths=[(A4[0] - 40 * mm) / len(x[0])] * len(x[0]))
            t.setStyle(TableStyle([
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]))
            story += [Spacer(1, 3), t, Spacer(1, 6)]
        elif kind == "li":
            story.append(Paragraph(escape(x), st["li"], bulletText="•"))
        else:
            story.append(Paragraph(escape(x), st[kind]))
    SimpleDocTemplate(str(path), pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
                      topMargin=20 * mm, bottomMargin=20 * mm, title=d["title"],
                      author="优选生活商城 " + d["owner"], subject=f"{d['version']} {EFFECTIVE}").build(story)


def _normalize_zip(path):
    """Rewrite a zip (docx) with fixed timestamps so re-runs give identical bytes."""
    src = zipfile.ZipFile(path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=(2026, 3, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, src.read(info.filename))
    src.close()
    path.write_bytes(buf.getvalue())


def write_docx(d, path):
    import datetime
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Pt

    document = Document()
    for name in ("Normal", "Title", "Heading 1", "Heading 2", "List Bullet"):
        style = document.styles[name]
        rpr = style.element.get_or_add_rPr()
        rfonts = rpr.find(qn("w:rFonts"))
        if rfonts is None:
            rfonts = rpr.makeelement(qn("w:rFonts"), {})
            rpr.append(rfonts)
        rfonts.set(qn("w:eastAsia"), "Microsoft YaHei")
    document.styles["Normal"].font.size = Pt(10.5)
    cp = document.core_properties
    cp.title, cp.author, cp.subject = d["title"], "优选生活商城 " + d["owner"], f"{d['version']} {EFFECTIVE}"
    cp.created = cp.modified = datetime.datetime(2026, 3, 1)
    cp.last_modified_by = d["owner"]
    cp.revision = 1
    document.add_heading(d["title"], level=0)
    document.add_paragraph(meta_line(d))
    for kind, x in parse(d["body"]):
        if kind == "h1":
            document.add_heading(x, level=1)
        elif kind == "h2":
            document.add_heading(x, level=2)
        elif kind == "li":
            document.add_paragraph(x, style="List Bullet")
        elif kind == "p":
            document.add_paragraph(x)
        else:
            t = document.add_table(rows=len(x), cols=len(x[0]))
            t.style = "Table Grid"
            for i, row in enumerate(x):
                for j, c in enumerate(row):
                    cell = t.cell(i, j)
                    cell.text = c
                    if i == 0:
                        for r in cell.paragraphs[0].runs:
                            r.bold = True
    document.save(str(path))
    _normalize_zip(path)


# ---------------------------------------------------------------------------
# Verification of generated binaries
# ---------------------------------------------------------------------------
def _squash(s):
    return re.sub(r"\s+", "", s)


def verify_pdf(d, path):
    from pypdf import PdfReader
    r = PdfReader(str(path))
    text = "\n".join(p.extract_text() or "" for p in r.pages)
    flat = _squash(text)
    missing = []
    pieces = [d["title"], meta_line(d)]
    for kind, x in parse(d["body"]):
        pieces += [c for row in x for c in row] if kind == "table" else [x]
    for piece in pieces:
        if _squash(piece) not in flat:
            missing.append(piece)
    assert not missing, f"{path.name}: text not extractable: {missing[:3]}"
    heads = [x for k, x in parse(d["body"]) if k in ("h1", "h2")]
    assert all(_squash(h) in flat for h in heads)
    return len(r.pages)


def verify_docx(d, path):
    from docx import Document
    document = Document(str(path))
    paras = [(p.style.name, p.text) for p in document.paragraphs]
    blocks = parse(d["body"])
    want_h1 = [x for k, x in blocks if k == "h1"]
    want_h2 = [x for k, x in blocks if k == "h2"]
    assert [t for s, t in paras if s == "Heading 1"] == want_h1, path.name
    assert [t for s, t in paras if s == "Heading 2"] == want_h2, path.name
    assert any(s == "Title" and t == d["title"] for s, t in paras), path.name
    want_tables = [x for k, x in blocks if k == "table"]
    assert len(document.tables) == len(want_tables), path.name
    for t, rows in zip(document.tables, want_tables):
        assert [[c.text for c in r.cells] for r in t.rows] == rows, path.name
    body_text = "\n".join(t for _, t in paras)
    for k, x in blocks:
        if k in ("p", "li"):
            assert x in body_text, (path.name, x)
    return len(want_tables)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    errors = []
    counts = {"pdf": 0, "docx": 0, "md": 0}
    manifest, corpus = [], []
    for d in DOCS:
        out_dir = KB / d["kb"]
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / d["file"]
        {"pdf": write_pdf, "docx": write_docx, "md": write_md}[d["fmt"]](d, path)
        counts[d["fmt"]] += 1
        text = plain_text(d)
        extra = ""
        if d["fmt"] == "pdf":
            extra = f"{verify_pdf(d, path)} pages"
        elif d["fmt"] == "docx":
            extra = f"{verify_docx(d, path)} table(s), Heading 1/2 ok"
        else:
            md = path.read_text(encoding="utf-8")
            assert md.startswith(f"# {d['title']}\n") and "\n## " in md and "\n### " in md
        blocks = parse(d["body"])
        n_tables = sum(1 for k, _ in blocks if k == "table")
        if is_en(d):
            size = f"{len(text.split())} words"
            if not 500 <= len(text.split()) <= 1600:
                errors.append(f"{d['id']}: English length {size}")
        else:
            n = cjk_count(text)
            size = f"{n} CJK chars"
            if not 600 <= n <= 1800:
                errors.append(f"{d['id']}: {n} CJK chars (want 600-1800)")
        print(f"  {d['kb']}/{d['file']:<34} {size:>15}  tables={n_tables}  {extra}")
        manifest.append({"path": f"{d['kb']}/{d['file']}", "kb": d["kb"], "id": d["id"], "title": d["title"],
                         "version": d["version"], "effective_date": EFFECTIVE, "owner": d["owner"],
                         "tags": d["tags"], "url": URL_BASE + d["id"]})
        corpus.append({"_id": d["id"], "title": d["title"], "text": text})

    # FAQ
    f = FAQ_META
    with open(KB / "support" / "faq.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["question", "answer"])
        w.writerows(FAQ)
    manifest.append({"path": "support/faq.csv", "kb": f["kb"], "id": f["id"], "title": f["title"],
                     "version": f["version"], "effective_date": EFFECTIVE, "owner": f["owner"],
                     "tags": f["tags"], "url": URL_BASE + f["id"]})
    corpus.append({"_id": "faq", "title": f["title"], "text": faq_text()})
    (KB / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    ids = [m["id"] for m in manifest]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) for i in ids)
    by_id = {c["_id"]: c["text"] for c in corpus}

    # Eval set
    EVAL.mkdir(parents=True, exist_ok=True)
    (EVAL / "qrels").mkdir(exist_ok=True)
    write_jsonl(EVAL / "corpus.jsonl", corpus)
    queries, qrels = [], []
    n_en = n_colloq = 0
    all_items = [(t, a, g, s, None) for t, a, g, s in Q] + [(t, [], [], s, fb) for t, s, fb in UNANSWERABLE]
    # interleave unanswerable queries so they are not all at the end
    step = max(1, len(Q) // len(UNANSWERABLE))
    ordered, ua = [], [x for x in all_items if x[4] is not None]
    for i, item in enumerate(x for x in all_items if x[4] is None):
        ordered.append(item)
        if (i + 1) % step == 0 and ua:
            ordered.append(ua.pop(0))
    ordered += ua
    seen_text = set()
    for n, (text, answers, gold, style, forbidden) in enumerate(ordered, 1):
        qid = f"demo-{n:03d}"
        if text in seen_text:
            errors.append(f"duplicate query text: {text}")
        seen_text.add(text)
        impossible = forbidden is not None
        queries.append({"_id": qid, "text": text, "answers": answers, "is_impossible": impossible})
        if cjk_count(text) == 0:
            n_en += 1
        if style == "c":
            n_colloq += 1
        if impossible:
            for kw in forbidden:
                for cid, ctext in by_id.items():
                    if kw.lower() in ctext.lower():
                        errors.append(f"{qid} unanswerable but '{kw}' occurs in {cid}")
            continue
        if not 1 <= len(answers) <= 3:
            errors.append(f"{qid}: needs 1-3 answers")
        for g in gold:
            if g not in by_id:
                errors.append(f"{qid}: unknown gold doc {g}")
        for a in answers:  # every answer occurs verbatim in some gold document
            if not any(a in by_id.get(g, "") for g in gold):
                errors.append(f"{qid}: answer {a!r} not found in gold docs {gold}")
        if answers and not all(a in by_id.get(gold[0], "") for a in answers):
            # the primary gold document must contain every answer unless the query spans documents
            if len(gold) < 2 or not all(any(a in by_id.get(g, "") for a in answers) for g in gold):
                errors.append(f"{qid}: primary gold doc {gold[0]} lacks some answers")
        for g in gold:  # every gold document contains at least one answer
            if not any(a in by_id.get(g, "") for a in answers):
                errors.append(f"{qid}: gold doc {g} contains none of {answers}")
        for g in gold:
            qrels.append((qid, g, 1))
    write_jsonl(EVAL / "queries.jsonl", queries)
    with open(EVAL / "qrels" / "test.tsv", "w", encoding="utf-8", newline="\n") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for qid, cid, s in qrels:
            fh.write(f"{qid}\t{cid}\t{s}\n")

    # FAQ consistency spot checks: numbers mentioned in an FAQ answer should exist in some SOP
    sop_all = "\n".join(c["text"] for c in corpus if c["_id"] != "faq")
    for q, a in FAQ:
        for num in re.findall(r"\d+(?:\.\d+)?(?:个工作日|小时|分钟|天|元|次|期|%|位|年|个月)", a):
            if num not in sop_all:
                errors.append(f"FAQ '{q}': '{num}' not found in any SOP")

    n_imp = sum(q["is_impossible"] for q in queries)
    print(f"formats: pdf={counts['pdf']} docx={counts['docx']} md={counts['md']} csv=1 "
          f"| documents in manifest={len(manifest)}")
    print(f"faq rows={len(FAQ)}")
    print(f"queries={len(queries)} answerable={len(queries) - n_imp} unanswerable={n_imp} "
          f"english={n_en} colloquial={n_colloq} qrels lines={len(qrels)}")
    if len(FAQ) < 45 or len(queries) < 70 or n_imp < 12 or n_en < 8 or n_colloq < 15 \
            or min(counts.values()) < 2:
        errors.append("minimum counts not met")
    if errors:
        print("ERRORS:")
        for e in errors:
            print("  -", e)
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
