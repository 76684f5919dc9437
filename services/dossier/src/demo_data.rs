//! Deterministic, realistic demo data for `dossier demo` and for load in `dossier bench`.
//!
//! The cards look like a Chinese sales department's archive — companies in eight cities with
//! valid unified social credit codes, decision makers and contacts with the personal fields the
//! card asks for, competitors, finance, visit routes and owners — so that a demo shows masking,
//! duplicate detection, routes and reviews on data people recognise. Everything is fictional.
//!
//! The same seed always gives the same cards, and a larger count extends a smaller one (card `i`
//! depends only on the seed and the cards before it), so a demo can be replayed and a bench can
//! grow its data set without reshuffling it.

use std::collections::{BTreeMap, HashSet};

use dossier_customer_profile::domain::credit_code::CreditCode;
use dossier_customer_profile::domain::name::normalise_name;
use dossier_proto::customer::{
    Channel, Competitor, Contact, ContactRole, Customer, CustomerKind, CustomerType, Finance,
    Grade, Lifecycle, LocationType, Ownership, PersonDetails, Sex, SupplySource, TradeStanding,
};

/// The demo sales staff: (`sub`, name, team). Each salesperson belongs to exactly one team.
const SALES_STAFF: &[(&str, &str, &str)] = &[
    ("rep-zhangwei", "张伟", "east"),
    ("rep-lina", "李娜", "east"),
    ("rep-wangfang", "王芳", "north"),
    ("rep-liuyang", "刘洋", "north"),
    ("mgr-zhaolei", "赵磊", "east"),
    ("mgr-sunli", "孙丽", "north"),
];

/// The custodian (档案管理员) of every demo archive.
const CUSTODIAN: &str = "arch-chenjing";

/// The demo salespeople and managers as (`sub`, name, team), for issuing demo tokens.
pub fn demo_sales_reps() -> &'static [(&'static str, &'static str, &'static str)] {
    SALES_STAFF
}

/// Generates `count` customer cards from `seed`. About one in eight is an individual customer
/// (表2-8); the rest are companies. Names, normalised names and credit codes are unique across
/// the set, so importing it never trips duplicate detection. Service-assigned fields (id,
/// archive number, etag, times, state, created/updated by) are left empty.
pub fn demo_customers(count: usize, seed: u64) -> Vec<Customer> {
    let mut generator = Generator::new(seed);
    (0..count).map(|index| generator.customer(index)).collect()
}

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

/// A city where demo customers sit, with what its addresses, phones and codes look like.
struct City {
    /// Short name, the start of a company name: 杭州.
    name: &'static str,
    /// Province and city as an address starts: 浙江省杭州市.
    address_prefix: &'static str,
    /// Administrative division code, positions 3–8 of a credit code.
    division: &'static str,
    /// Telephone area code.
    area_code: &'static str,
    /// Sales region `大区/城市`.
    region: &'static str,
    /// Prefix of visit route codes.
    route_prefix: &'static str,
    /// The salesperson who covers the city.
    owner: &'static str,
    /// Districts with their postcodes.
    districts: &'static [(&'static str, &'static str)],
    /// Streets for company addresses.
    streets: &'static [&'static str],
}

/// The eight demo cities; each salesperson covers two.
const CITIES: &[City] = &[
    City {
        name: "杭州",
        address_prefix: "浙江省杭州市",
        division: "330100",
        area_code: "0571",
        region: "华东/杭州",
        route_prefix: "HZ",
        owner: "rep-zhangwei",
        districts: &[
            ("西湖区", "310012"),
            ("拱墅区", "310011"),
            ("滨江区", "310051"),
            ("余杭区", "311100"),
            ("萧山区", "311200"),
            ("上城区", "310002"),
        ],
        streets: &[
            "文三路",
            "天目山路",
            "莫干山路",
            "江南大道",
            "文一西路",
            "建国北路",
        ],
    },
    City {
        name: "上海",
        address_prefix: "上海市",
        division: "310000",
        area_code: "021",
        region: "华东/上海",
        route_prefix: "SH",
        owner: "rep-lina",
        districts: &[
            ("浦东新区", "201203"),
            ("闵行区", "201100"),
            ("徐汇区", "200030"),
            ("嘉定区", "201800"),
            ("松江区", "201600"),
            ("静安区", "200040"),
        ],
        streets: &[
            "张江路",
            "漕宝路",
            "曹安公路",
            "沪松公路",
            "金科路",
            "莲花南路",
        ],
    },
    City {
        name: "北京",
        address_prefix: "北京市",
        division: "110000",
        area_code: "010",
        region: "华北/北京",
        route_prefix: "BJ",
        owner: "rep-wangfang",
        districts: &[
            ("海淀区", "100080"),
            ("朝阳区", "100020"),
            ("丰台区", "100071"),
            ("大兴区", "102600"),
            ("顺义区", "101300"),
            ("昌平区", "102200"),
        ],
        streets: &[
            "中关村大街",
            "建国路",
            "丰台北路",
            "兴华大街",
            "北清路",
            "西三环北路",
        ],
    },
    City {
        name: "深圳",
        address_prefix: "广东省深圳市",
        division: "440300",
        area_code: "0755",
        region: "华南/深圳",
        route_prefix: "SZ",
        owner: "rep-lina",
        districts: &[
            ("南山区", "518057"),
            ("福田区", "518048"),
            ("宝安区", "518101"),
            ("龙岗区", "518172"),
            ("龙华区", "518109"),
        ],
        streets: &[
            "科技南路",
            "深南大道",
            "宝安大道",
            "龙岗大道",
            "民治大道",
            "高新南一道",
        ],
    },
    City {
        name: "苏州",
        address_prefix: "江苏省苏州市",
        division: "320500",
        area_code: "0512",
        region: "华东/苏州",
        route_prefix: "SU",
        owner: "rep-zhangwei",
        districts: &[
            ("吴中区", "215100"),
            ("相城区", "215131"),
            ("虎丘区", "215011"),
            ("吴江区", "215200"),
            ("姑苏区", "215008"),
        ],
        streets: &[
            "星湖街",
            "东吴北路",
            "太阳路",
            "长江路",
            "中山南路",
            "人民路",
        ],
    },
    City {
        name: "成都",
        address_prefix: "四川省成都市",
        division: "510100",
        area_code: "028",
        region: "西南/成都",
        route_prefix: "CD",
        owner: "rep-liuyang",
        districts: &[
            ("武侯区", "610041"),
            ("锦江区", "610021"),
            ("青羊区", "610031"),
            ("成华区", "610051"),
            ("郫都区", "611730"),
            ("双流区", "610200"),
        ],
        streets: &[
            "天府大道",
            "人民南路",
            "蜀都大道",
            "建设路",
            "红光大道",
            "西航港大道",
        ],
    },
    City {
        name: "武汉",
        address_prefix: "湖北省武汉市",
        division: "420100",
        area_code: "027",
        region: "华中/武汉",
        route_prefix: "WH",
        owner: "rep-liuyang",
        districts: &[
            ("洪山区", "430070"),
            ("江汉区", "430015"),
            ("武昌区", "430061"),
            ("东西湖区", "430040"),
            ("汉阳区", "430050"),
            ("江夏区", "430200"),
        ],
        streets: &[
            "珞喻路",
            "解放大道",
            "中北路",
            "金银湖路",
            "龙阳大道",
            "文化大道",
        ],
    },
    City {
        name: "青岛",
        address_prefix: "山东省青岛市",
        division: "370200",
        area_code: "0532",
        region: "华东/青岛",
        route_prefix: "QD",
        owner: "rep-wangfang",
        districts: &[
            ("市南区", "266071"),
            ("市北区", "266011"),
            ("崂山区", "266061"),
            ("黄岛区", "266500"),
            ("城阳区", "266109"),
            ("李沧区", "266041"),
        ],
        streets: &[
            "香港中路",
            "辽宁路",
            "松岭路",
            "长江中路",
            "正阳路",
            "九水东路",
        ],
    },
];

/// Characters of trade names (字号) with their pinyin, for names and email domains.
#[rustfmt::skip]
const TRADE_NAME_CHARS: &[(&str, &str)] = &[
    ("恒", "heng"), ("远", "yuan"), ("华", "hua"), ("通", "tong"), ("金", "jin"), ("石", "shi"),
    ("鼎", "ding"), ("盛", "sheng"), ("宏", "hong"), ("达", "da"), ("瑞", "rui"), ("丰", "feng"),
    ("嘉", "jia"), ("禾", "he"), ("永", "yong"), ("信", "xin"), ("百", "bai"), ("川", "chuan"),
    ("海", "hai"), ("天", "tian"), ("新", "xin"), ("源", "yuan"), ("中", "zhong"), ("正", "zheng"),
    ("博", "bo"), ("兴", "xing"), ("泰", "tai"), ("安", "an"), ("德", "de"), ("利", "li"),
    ("隆", "long"), ("昌", "chang"), ("明", "ming"), ("辉", "hui"), ("鑫", "xin"), ("宇", "yu"),
    ("诚", "cheng"), ("合", "he"), ("佳", "jia"), ("盈", "ying"), ("创", "chuang"), ("富", "fu"),
    ("康", "kang"), ("聚", "ju"), ("腾", "teng"), ("飞", "fei"), ("卓", "zhuo"), ("越", "yue"),
    ("立", "li"), ("邦", "bang"), ("凯", "kai"), ("星", "xing"), ("辰", "chen"), ("润", "run"),
    ("泽", "ze"), ("晟", "sheng"), ("骏", "jun"), ("东", "dong"), ("方", "fang"), ("益", "yi"),
    ("鸿", "hong"), ("万", "wan"), ("亿", "yi"), ("联", "lian"),
];

/// An industry: the word in a company name, the industry label, the email-domain tag and a
/// business scope.
const INDUSTRIES: &[(&str, &str, &str, &str)] = &[
    (
        "化工",
        "化学原料和化学制品制造业",
        "chem",
        "化工原料及产品（不含危险化学品）的生产与销售；化工技术咨询服务",
    ),
    (
        "机电",
        "通用设备制造业",
        "me",
        "机电设备、五金交电的生产、销售、安装及维修",
    ),
    (
        "电子",
        "计算机、通信和其他电子设备制造业",
        "elec",
        "电子元器件、电子产品的研发、生产与销售",
    ),
    (
        "建材",
        "建筑材料批发",
        "bm",
        "建筑材料、装饰材料、管材管件的批发与零售",
    ),
    (
        "食品",
        "食品制造业",
        "food",
        "预包装食品的生产与销售；食品添加剂销售",
    ),
    ("纺织", "纺织业", "tex", "纺织品、针织品及原料的生产与销售"),
    (
        "物流",
        "道路货物运输",
        "logistics",
        "普通货物道路运输；仓储服务（不含危险品）；货运代理",
    ),
    (
        "医药",
        "医药制造业",
        "pharma",
        "药品、医疗器械的研发、生产与销售",
    ),
    (
        "包装",
        "印刷和包装装潢",
        "pack",
        "纸制品、塑料包装材料的生产与销售；包装装潢印刷",
    ),
    (
        "五金",
        "金属制品业",
        "hw",
        "五金制品、紧固件、模具的加工与销售",
    ),
    (
        "塑胶",
        "橡胶和塑料制品业",
        "plastic",
        "塑料制品、橡胶制品的生产与销售",
    ),
    (
        "精密机械",
        "专用设备制造业",
        "precision",
        "精密零部件、数控机床配件的加工与销售",
    ),
    (
        "汽车部件",
        "汽车制造业",
        "auto",
        "汽车零部件及配件的生产与销售",
    ),
    (
        "环保",
        "生态保护和环境治理业",
        "env",
        "环保设备的研发、生产、安装；污水处理技术服务",
    ),
    (
        "钢构",
        "金属结构制造业",
        "steel",
        "钢结构件的设计、制作与安装；金属材料销售",
    ),
    ("印染", "纺织印染业", "dye", "纺织品印染、后整理加工"),
];

/// Legal forms of a company with their weights.
const LEGAL_FORMS: &[(&str, u32)] = &[
    ("有限公司", 60),
    ("股份有限公司", 12),
    ("有限责任公司", 12),
    ("集团有限公司", 5),
];

/// Surnames with their pinyin.
#[rustfmt::skip]
const SURNAMES: &[(&str, &str)] = &[
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"),
    ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("林", "lin"),
    ("高", "gao"), ("罗", "luo"), ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"),
    ("唐", "tang"), ("许", "xu"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"),
    ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"), ("潘", "pan"),
    ("袁", "yuan"), ("蒋", "jiang"), ("蔡", "cai"), ("余", "yu"), ("杜", "du"), ("叶", "ye"),
    ("程", "cheng"), ("魏", "wei"), ("苏", "su"), ("丁", "ding"), ("沈", "shen"), ("姚", "yao"),
];

/// Characters of men's given names with their pinyin.
#[rustfmt::skip]
const MALE_GIVEN: &[(&str, &str)] = &[
    ("伟", "wei"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("勇", "yong"), ("杰", "jie"),
    ("涛", "tao"), ("斌", "bin"), ("超", "chao"), ("明", "ming"), ("刚", "gang"), ("平", "ping"),
    ("辉", "hui"), ("鹏", "peng"), ("华", "hua"), ("飞", "fei"), ("波", "bo"), ("宇", "yu"),
    ("浩", "hao"), ("凯", "kai"), ("健", "jian"), ("俊", "jun"), ("帆", "fan"), ("志", "zhi"),
    ("国", "guo"), ("建", "jian"), ("文", "wen"), ("海", "hai"), ("东", "dong"), ("峰", "feng"),
    ("林", "lin"), ("成", "cheng"),
];

/// Characters of women's given names with their pinyin.
#[rustfmt::skip]
const FEMALE_GIVEN: &[(&str, &str)] = &[
    ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("艳", "yan"),
    ("娟", "juan"), ("霞", "xia"), ("秀", "xiu"), ("玲", "ling"), ("英", "ying"), ("婷", "ting"),
    ("雪", "xue"), ("慧", "hui"), ("颖", "ying"), ("琳", "lin"), ("倩", "qian"), ("洁", "jie"),
    ("燕", "yan"), ("萍", "ping"), ("红", "hong"), ("梅", "mei"), ("晶", "jing"), ("璐", "lu"),
    ("佳", "jia"), ("欣", "xin"),
];

/// Titles of decision makers (企业决策领导) with their department.
const DECISION_MAKER_TITLES: &[(&str, &str)] = &[
    ("总经理", "总经办"),
    ("董事长", "董事会"),
    ("执行董事", "总经办"),
];

/// Titles of key managers (主要管理人员) with their department.
const MANAGER_TITLES: &[(&str, &str)] = &[
    ("采购部经理", "采购部"),
    ("财务总监", "财务部"),
    ("生产部经理", "生产部"),
    ("技术总监", "技术部"),
    ("设备部经理", "设备部"),
    ("副总经理", "总经办"),
];

/// Titles of day-to-day contacts (联系人) with their department.
const CONTACT_TITLES: &[(&str, &str)] = &[
    ("采购专员", "采购部"),
    ("采购员", "采购部"),
    ("仓库主管", "仓储部"),
    ("设备工程师", "设备部"),
    ("会计", "财务部"),
    ("总经理助理", "总经办"),
];

/// How a decision maker stands in the company.
const DECISION_MAKER_RELATIONS: &[&str] = &["法定代表人", "公司创始人", "实际控制人"];

/// How other people stand to the decision makers (与决策层关系).
const RELATIONS: &[&str] = &[
    "总经理直接下属",
    "总经理的亲属",
    "深得总经理信任",
    "与总经理是同乡",
    "由副总经理分管",
    "普通上下级关系",
];

/// Education levels (学历) with their weights.
const EDUCATION: &[(&str, u32)] = &[
    ("大专", 30),
    ("本科", 45),
    ("硕士", 15),
    ("中专", 6),
    ("博士", 4),
];

/// Native places (籍贯).
#[rustfmt::skip]
const NATIVE_PLACES: &[&str] = &[
    "浙江宁波", "江苏南通", "山东潍坊", "湖北荆州", "四川绵阳", "河南信阳", "安徽安庆", "湖南衡阳",
    "江西九江", "福建泉州", "广东潮州", "河北保定", "浙江温州", "江苏盐城", "辽宁大连", "陕西宝鸡",
];

/// Characters (性格) as a salesperson would note them.
#[rustfmt::skip]
const CHARACTERS: &[&str] = &[
    "稳重务实", "性格开朗", "谨慎细致", "直爽干脆", "注重细节", "善于沟通", "做事果断", "比较强势",
    "为人低调", "重视承诺",
];

/// Hobbies (嗜好).
#[rustfmt::skip]
const HOBBIES: &[&str] = &[
    "高尔夫", "钓鱼", "喝茶", "书法", "羽毛球", "登山", "摄影", "围棋", "跑步", "乒乓球",
    "收藏紫砂壶", "自驾游",
];

/// Residential estates for home addresses.
#[rustfmt::skip]
const ESTATES: &[&str] = &[
    "翠苑", "金色家园", "阳光花园", "锦绣华庭", "和平里", "紫金苑", "滨江花园", "世纪新城",
    "东方名苑", "桂花园",
];

/// Banks (开户行) for company and personal accounts.
#[rustfmt::skip]
const BANKS: &[&str] = &[
    "中国工商银行", "中国建设银行", "中国银行", "中国农业银行", "招商银行", "交通银行", "兴业银行",
];

/// Mobile number prefixes in use.
#[rustfmt::skip]
const MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156",
    "158", "159", "177", "180", "182", "186", "187", "188", "189", "199",
];

/// Free-mail domains individual customers use.
const MAIL_PROVIDERS: &[&str] = &["163.com", "126.com", "sina.com", "139.com", "foxmail.com"];

/// Fictional competitors of ours (我司 sells industrial lubricants and process fluids).
const COMPETITORS: &[&str] = &[
    "恒力润滑材料有限公司",
    "东方精工油品有限公司",
    "金盾化学工业有限公司",
    "海特油脂（中国）有限公司",
    "联创工业材料有限公司",
    "蓝盾特种油品有限公司",
    "中科润达新材料有限公司",
];

/// What the competitors sell.
const COMPETITOR_PRODUCTS: &[&str] = &[
    "液压油、齿轮油",
    "切削液、防锈油",
    "润滑脂",
    "导轨油、主轴油",
    "工业清洗剂",
    "全系列工业润滑油",
];

/// Competitors' price levels against ours.
const COMPETITOR_PRICES: &[&str] = &[
    "比我司低约 5%",
    "与我司基本持平",
    "比我司高约 3%",
    "低价冲量，比我司低 8%-10%",
];

/// Competitors' commercial policies.
const COMPETITOR_POLICIES: &[&str] = &[
    "季度返利 2%",
    "月结 60 天",
    "免费油液检测",
    "买十送一",
    "年度框架协议，锁价一年",
    "驻厂技术服务",
];

/// Our products as the card names them.
const OUR_PRODUCTS: &[&str] = &[
    "抗磨液压油 L-HM46（200L/桶）",
    "重负荷齿轮油 L-CKD220（18L/桶）",
    "微乳化切削液（200L/桶）",
    "通用锂基润滑脂（15kg/桶）",
    "防锈油（18L/桶）",
    "导轨油 G68（200L/桶）",
    "工业清洗剂（25kg/桶）",
];

/// Technical requirements (技术要求) customers set.
const TECHNICAL_REQUIREMENTS: &[&str] = &[
    "液压油需符合 GB 11118.1-2011 L-HM 46 标准",
    "切削液要求低泡、不含亚硝酸盐",
    "每批次须附质检报告及 MSDS",
    "润滑脂滴点不低于 180℃",
    "要求提供第三方检测报告，包装需防潮",
];

/// Where customers sell.
const MARKETS: &[&str] = &[
    "长三角地区",
    "珠三角地区",
    "华北地区",
    "西南地区",
    "华中地区",
    "全国",
];

/// Who customers sell to.
const DOWNSTREAM: &[&str] = &[
    "汽车零部件厂",
    "家电制造企业",
    "建筑施工单位",
    "连锁商超",
    "出口贸易商",
    "医院及药房",
];

/// Price floats against the contract price (价格浮动).
const PRICE_FLOATS: &[&str] = &[
    "按合同价执行",
    "合同价下浮 2%",
    "合同价上浮 1%",
    "量大时下浮 3%",
    "随原油价格季度调整",
];

/// Suffixes of supplier names (货源).
const SUPPLIER_KINDS: &[&str] = &["油品贸易有限公司", "润滑科技有限公司", "工业材料有限公司"];

/// Free tags.
const TAGS: &[&str] = &[
    "账期客户",
    "现款客户",
    "出口型",
    "高新技术企业",
    "专精特新",
    "需要技术支持",
    "价格敏感",
    "年底集中备货",
];

/// Notes (备注) a salesperson leaves.
const NOTES: &[&str] = &[
    "每月上旬集中采购，需提前备货",
    "付款前需提前三天对账",
    "年底有集中备货需求",
    "采购决策需总经理签字",
    "对交货期要求严格",
    "曾因包装破损投诉，发货需加强防护",
    "",
];

/// Trades of individual customers.
const PERSONAL_TRADES: &[(&str, &str, &str)] = &[
    (
        "机械设备维修",
        "设备维修服务",
        "个体经营：机械设备维修及保养",
    ),
    ("汽车维修", "汽修店店主", "个体经营：汽车维修、润滑油更换"),
    ("五金零售", "五金店店主", "个体经营：五金、润滑油零售"),
    ("工程承包", "工程承包人", "承接厂房设备安装工程"),
    ("销售代理", "独立销售代理", "代理销售工业润滑油品"),
];

/// The characters a credit code's organisation part may use (the credit-code set).
const CODE_CHARSET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

// ---------------------------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------------------------

/// Random attempts at a unique name before falling back to a constructed one.
const NAME_ATTEMPTS: u64 = 48;

/// The state of one generation run: the random stream and what has been used so far.
struct Generator {
    rng: Rng,
    /// Normalised names already taken, so no two cards look like duplicates.
    names: HashSet<String>,
    /// Credit codes already taken.
    codes: HashSet<String>,
    /// Customers so far on each visit route, for `route_order`.
    routes: BTreeMap<String, i32>,
}

/// A generated person: the name, its parts in pinyin (for email addresses) and the sex.
struct PersonName {
    name: String,
    surname: &'static str,
    given_pinyin: String,
    surname_pinyin: String,
    sex: Sex,
}

impl Generator {
    fn new(seed: u64) -> Self {
        Generator {
            rng: Rng::new(seed),
            names: HashSet::new(),
            codes: HashSet::new(),
            routes: BTreeMap::new(),
        }
    }

    /// The card at `index`.
    fn customer(&mut self, index: usize) -> Customer {
        let city = self.rng.pick(CITIES);
        // A fixed slot rather than a coin toss, so that even a small demo set has an individual.
        let mut customer = if index % 8 == 3 {
            self.person_customer(index, city)
        } else {
            self.company_customer(index, city)
        };
        let route_code = format!("{}-{:02}", city.route_prefix, self.rng.between(1, 3));
        let order = self.routes.entry(route_code.clone()).or_insert(0);
        *order += 1;
        customer.route_order = *order;
        customer.route_code = route_code;
        customer.region = city.region.to_owned();
        customer.owner_id = city.owner.to_owned();
        customer.team = team_of(city.owner).to_owned();
        customer.custodian_id = CUSTODIAN.to_owned();
        customer.location_type = self.rng.weighted(&[
            (LocationType::CommercialCenter, 30),
            (LocationType::TransportHub, 15),
            (LocationType::Residential, 10),
            (LocationType::Other, 45),
        ]) as i32;
        customer
    }

    /// A company card (表2-7 / 附表四).
    fn company_customer(&mut self, index: usize, city: &City) -> Customer {
        let industry = self.rng.pick(INDUSTRIES);
        let (name_word, industry_label, domain_tag, scope) = *industry;
        let legal_form = self.rng.weighted(LEGAL_FORMS);
        let (name, trade_pinyin) = self.unique_company_name(index, city, name_word, legal_form);
        let credit_code = self.unique_credit_code(city.division);
        let (district, postcode) = *self.rng.pick(city.districts);
        let domain = format!("{trade_pinyin}-{domain_tag}.com.cn");

        let ownership = if legal_form.contains("股份") {
            Ownership::JointStock
        } else {
            self.rng.weighted(&[
                (Ownership::Private, 40),
                (Ownership::Other, 10),
                (Ownership::State, 10),
                (Ownership::Collective, 5),
                (Ownership::JointVenture, 15),
                (Ownership::Foreign, 10),
                (Ownership::JointStock, 10),
            ])
        };
        let customer_type = if ownership == Ownership::State && self.rng.chance(1, 3) {
            CustomerType::Government
        } else {
            self.rng.weighted(&[
                (CustomerType::OrdinaryCompany, 70),
                (CustomerType::SpecialCompany, 12),
                (CustomerType::TradePartner, 18),
            ])
        };
        let grade = self.rng.weighted(&[
            (Grade::A, 15),
            (Grade::B, 25),
            (Grade::C, 40),
            (Grade::D, 20),
        ]);
        let lifecycle = self.lifecycle();
        let founded_year = self.rng.between(1993, 2020);
        let staff_count = match self.rng.below(5) {
            0 | 1 => self.rng.between(20, 99),
            2 | 3 => self.rng.between(100, 499),
            _ => self.rng.between(500, 3000),
        };
        // Sales per head between 0.3 and 1.2 million yuan, rounded to ten thousand.
        let yearly_sales_yuan =
            u64::from(staff_count) * u64::from(self.rng.between(30, 120)) * 10_000;
        let monthly_tenths_of_tonne = self.rng.between(5, 200);

        let contacts = self.contacts(city, &domain);
        let competitors = self.competitors();
        let finance = self.finance(yearly_sales_yuan);
        let first_trade_date = self.first_trade_date(lifecycle, founded_year);
        let trading = !first_trade_date.is_empty();
        let first_trade_year = first_trade_date.get(..4).unwrap_or("").to_owned();

        Customer {
            kind: CustomerKind::Company as i32,
            name,
            credit_code,
            address: self.street_address(city, district),
            postcode: postcode.to_owned(),
            phone: self.landline(city),
            fax: self.landline(city),
            email: format!(
                "{}@{domain}",
                self.rng
                    .weighted(&[("sales", 5), ("info", 2), ("service", 1), ("office", 1)])
            ),
            bank_name: format!("{}{}分行", self.rng.pick(BANKS), city.name),
            bank_account: format!("{}{}", self.rng.between(1, 9), self.rng.digits(18)),
            industry: industry_label.to_owned(),
            business_scope: scope.to_owned(),
            ownership: ownership as i32,
            customer_type: customer_type as i32,
            channel: self.rng.weighted(&[
                (Channel::Wholesale, 25),
                (Channel::Retail, 15),
                (Channel::Agent, 20),
                (Channel::Appointed, 10),
                (Channel::Chain, 10),
                (Channel::Exclusive, 20),
            ]) as i32,
            grade: grade as i32,
            trade_standing: self.trade_standing(grade) as i32,
            lifecycle: lifecycle as i32,
            contacts,
            competitors,
            finance: Some(finance),
            notes: (*self.rng.pick(NOTES)).to_owned(),
            founded_date: self.date_in(founded_year),
            first_trade_date,
            staff_count: i32::try_from(staff_count).unwrap_or(i32::MAX),
            yearly_sales: format!("{yearly_sales_yuan}.00"),
            tags: self.tags(grade),
            supply_sources: self.supply_sources(),
            sales_situation: format!(
                "产品主要销往{}，下游客户以{}为主，近三年销售额{}",
                self.rng.pick(MARKETS),
                self.rng.pick(DOWNSTREAM),
                self.rng
                    .pick(&["稳定增长", "基本持平", "小幅下滑", "增长较快"]),
            ),
            usage: format!(
                "月用量约 {}.{} 吨",
                monthly_tenths_of_tonne / 10,
                monthly_tenths_of_tonne % 10
            ),
            purchase_volume: format!("年进货约 {} 吨", monthly_tenths_of_tonne * 12 / 10),
            technical_requirements: (*self.rng.pick(TECHNICAL_REQUIREMENTS)).to_owned(),
            our_products: if trading {
                self.our_products()
            } else {
                String::new()
            },
            cooperation: if trading {
                format!(
                    "{first_trade_year} 年开始合作，年均提货约 {} 吨，回款{}",
                    self.rng.between(5, 120),
                    self.rng.pick(&["及时", "基本及时", "偶有拖欠"]),
                )
            } else {
                "尚未成交，已提供样品试用".to_owned()
            },
            price_float: (*self.rng.pick(PRICE_FLOATS)).to_owned(),
            ..Customer::default()
        }
    }

    /// An individual customer's card (表2-8): a tradesman or agent who buys on his own account.
    fn person_customer(&mut self, index: usize, city: &City) -> Customer {
        let person = self.unique_person_name(index);
        let (industry, title, scope) = *self.rng.pick(PERSONAL_TRADES);
        let (district, postcode) = *self.rng.pick(city.districts);
        let home_address = self.home_address(city, district);
        let home_phone = self.landline(city);
        let birth_year = self.rng.between(1962, 1995);
        let grade = self
            .rng
            .weighted(&[(Grade::B, 15), (Grade::C, 50), (Grade::D, 35)]);
        let lifecycle = self.lifecycle();
        let competitors = if self.rng.chance(1, 2) {
            self.competitors_n(1)
        } else {
            Vec::new()
        };
        let employer_city = self.rng.pick(CITIES);
        let employer = format!(
            "{}{}{}有限公司",
            employer_city.name,
            self.trade_name(2).0,
            self.rng.pick(INDUSTRIES).0
        );
        let first_trade_date = self.first_trade_date(lifecycle, birth_year + 25);
        let trading = !first_trade_date.is_empty();
        let details = PersonDetails {
            sex: person.sex as i32,
            birth_date: self.date_in(birth_year),
            employer,
            title: title.to_owned(),
            education: self.rng.weighted(EDUCATION).to_owned(),
            native_place: (*self.rng.pick(NATIVE_PLACES)).to_owned(),
            character: (*self.rng.pick(CHARACTERS)).to_owned(),
            hobbies: self.hobbies(),
            home_address: home_address.clone(),
            home_phone,
        };
        let monthly_kg = self.rng.between(20, 400);
        Customer {
            kind: CustomerKind::Person as i32,
            name: person.name.clone(),
            address: home_address,
            postcode: postcode.to_owned(),
            phone: self.mobile(),
            email: format!(
                "{}{}{}@{}",
                person.surname_pinyin,
                person.given_pinyin,
                birth_year % 100,
                self.rng.pick(MAIL_PROVIDERS)
            ),
            // Personal debit cards are 19 digits starting 62 (UnionPay).
            bank_name: format!("{}{}分行", self.rng.pick(BANKS), city.name),
            bank_account: format!("62{}", self.rng.digits(17)),
            industry: industry.to_owned(),
            business_scope: scope.to_owned(),
            customer_type: CustomerType::Individual as i32,
            channel: self
                .rng
                .weighted(&[(Channel::Retail, 3), (Channel::Agent, 2)]) as i32,
            grade: grade as i32,
            trade_standing: self.trade_standing(grade) as i32,
            lifecycle: lifecycle as i32,
            competitors,
            notes: (*self.rng.pick(NOTES)).to_owned(),
            first_trade_date,
            tags: vec!["个人客户".to_owned()],
            usage: format!("月用量约 {monthly_kg} 公斤"),
            purchase_volume: format!("年进货约 {} 公斤", monthly_kg * 12),
            our_products: if trading {
                self.our_products()
            } else {
                String::new()
            },
            cooperation: if trading {
                "按需零星采购，现款结算".to_owned()
            } else {
                "尚未成交".to_owned()
            },
            price_float: "按零售价执行".to_owned(),
            person: Some(details),
            ..Customer::default()
        }
    }

    /// A company name whose normalised form no earlier card has, and the pinyin of its trade
    /// name. Two-character trade names first, then three, then one built from `index`, which
    /// cannot collide with the random ones because it is longer.
    fn unique_company_name(
        &mut self,
        index: usize,
        city: &City,
        industry_word: &str,
        legal_form: &str,
    ) -> (String, String) {
        let mut attempt: u64 = 0;
        loop {
            let (trade, pinyin) = if attempt < NAME_ATTEMPTS {
                self.trade_name(2)
            } else if attempt < 2 * NAME_ATTEMPTS {
                self.trade_name(3)
            } else {
                let n = (index as u64) * NAME_ATTEMPTS + (attempt - 2 * NAME_ATTEMPTS);
                spell(n, 4, TRADE_NAME_CHARS)
            };
            let name = format!("{}{trade}{industry_word}{legal_form}", city.name);
            if self.names.insert(normalise_name(&name)) {
                return (name, pinyin);
            }
            attempt += 1;
        }
    }

    /// A random trade name (字号) of `len` different characters, and its pinyin.
    fn trade_name(&mut self, len: usize) -> (String, String) {
        let picks = self.rng.distinct(TRADE_NAME_CHARS, len);
        (
            picks.iter().map(|(han, _)| *han).collect(),
            picks.iter().map(|(_, pinyin)| *pinyin).collect(),
        )
    }

    /// A person's name no earlier card has, for an individual customer.
    fn unique_person_name(&mut self, index: usize) -> PersonName {
        let mut attempt: u64 = 0;
        loop {
            let mut person = self.person_name();
            if attempt >= NAME_ATTEMPTS {
                // A three-character given name built from the index: longer than any random
                // one, and different for every index.
                let given = if person.sex == Sex::Male {
                    MALE_GIVEN
                } else {
                    FEMALE_GIVEN
                };
                let n = (index as u64) * NAME_ATTEMPTS + (attempt - NAME_ATTEMPTS);
                let (given_name, given_pinyin) = spell(n, 3, given);
                person.name = format!("{}{given_name}", person.surname);
                person.given_pinyin = given_pinyin;
            }
            if self.names.insert(normalise_name(&person.name)) {
                return person;
            }
            attempt += 1;
        }
    }

    /// A random Chinese name: a surname and a one- or two-character given name.
    fn person_name(&mut self) -> PersonName {
        let sex = if self.rng.chance(3, 5) {
            Sex::Male
        } else {
            Sex::Female
        };
        let given_chars = if sex == Sex::Male {
            MALE_GIVEN
        } else {
            FEMALE_GIVEN
        };
        let (surname, surname_pinyin) = *self.rng.pick(SURNAMES);
        let len = if self.rng.chance(2, 5) { 1 } else { 2 };
        let given = self.rng.distinct(given_chars, len);
        PersonName {
            name: format!(
                "{surname}{}",
                given.iter().map(|(han, _)| *han).collect::<String>()
            ),
            surname,
            given_pinyin: given.iter().map(|(_, pinyin)| *pinyin).collect(),
            surname_pinyin: surname_pinyin.to_owned(),
            sex,
        }
    }

    /// A credit code no earlier card has: `9` (registered with market regulation), `1`
    /// (enterprise), the city's division code, a nine-character organisation code, the check.
    fn unique_credit_code(&mut self, division: &str) -> String {
        loop {
            let mut code = format!("91{division}{}", self.organisation_code());
            let Some(check) = CreditCode::check_char(&code) else {
                // Unreachable with the inputs above; draw again rather than emit a bad code.
                continue;
            };
            code.push(check);
            if self.codes.insert(code.clone()) {
                return code;
            }
        }
    }

    /// An organisation code (GB 11714): eight characters and their check character. Companies
    /// registered since 2015 get `MA` and six characters; older ones kept their numeric codes.
    fn organisation_code(&mut self) -> String {
        let mut body = String::with_capacity(9);
        if self.rng.chance(1, 2) {
            body.push_str("MA");
            for _ in 0..6 {
                body.push(char::from(*self.rng.pick(CODE_CHARSET)));
            }
        } else {
            body.push_str(&self.rng.between(5, 7).to_string());
            body.push_str(&self.rng.digits(7));
        }
        body.push(organisation_check(&body));
        body
    }

    /// Two to five people: one decision maker, then key managers and contacts.
    fn contacts(&mut self, city: &City, domain: &str) -> Vec<Contact> {
        let count = self.rng.between(2, 5);
        let mut used_names = HashSet::new();
        let mut used_titles = HashSet::new();
        let mut contacts = Vec::new();
        for position in 0..count {
            let (role, titles) = if position == 0 {
                (ContactRole::DecisionMaker, DECISION_MAKER_TITLES)
            } else if self.rng.chance(3, 5) {
                (ContactRole::Manager, MANAGER_TITLES)
            } else {
                (ContactRole::Contact, CONTACT_TITLES)
            };
            let (title, department) = *self.rng.pick(titles);
            if !used_titles.insert(title) {
                // Two 财务总监 at one company would look wrong: one person fewer instead.
                continue;
            }
            let person = loop {
                let candidate = self.person_name();
                if used_names.insert(candidate.name.clone()) {
                    break candidate;
                }
            };
            let relation = if role == ContactRole::DecisionMaker {
                self.rng.pick(DECISION_MAKER_RELATIONS)
            } else {
                self.rng.pick(RELATIONS)
            };
            let (district, _) = *self.rng.pick(city.districts);
            let birth_year = self.rng.between(1962, 1996);
            contacts.push(Contact {
                email: format!("{}.{}@{domain}", person.given_pinyin, person.surname_pinyin),
                name: person.name,
                sex: person.sex as i32,
                title: title.to_owned(),
                department: department.to_owned(),
                role: role as i32,
                phone: self.mobile(),
                birth_date: self.date_in(birth_year),
                education: self.rng.weighted(EDUCATION).to_owned(),
                native_place: (*self.rng.pick(NATIVE_PLACES)).to_owned(),
                character: (*self.rng.pick(CHARACTERS)).to_owned(),
                hobbies: self.hobbies(),
                home_address: self.home_address(city, district),
                home_phone: if self.rng.chance(3, 5) {
                    self.landline(city)
                } else {
                    String::new()
                },
                relation_to_decision_makers: (*relation).to_owned(),
            });
        }
        contacts
    }

    /// One to three competitors.
    fn competitors(&mut self) -> Vec<Competitor> {
        let count = self.rng.between(1, 3) as usize;
        self.competitors_n(count)
    }

    /// `count` different competitors with shares that leave room for us.
    fn competitors_n(&mut self, count: usize) -> Vec<Competitor> {
        let names = self.rng.distinct(COMPETITORS, count);
        // Shares in hundredths of a percent: the largest first, together at most 82 %.
        let ranges = [(1500, 4500), (500, 2500), (200, 1200)];
        names
            .into_iter()
            .zip(ranges)
            .map(|(name, (low, high))| {
                let share = self.rng.between(low, high);
                Competitor {
                    name: (*name).to_owned(),
                    products: (*self.rng.pick(COMPETITOR_PRODUCTS)).to_owned(),
                    share_percent: format!("{}.{:02}", share / 100, share % 100),
                    price: (*self.rng.pick(COMPETITOR_PRICES)).to_owned(),
                    policy: (*self.rng.pick(COMPETITOR_POLICIES)).to_owned(),
                }
            })
            .collect()
    }

    /// The finance block, with assets in proportion to sales and a condition that fits the
    /// debt ratio.
    fn finance(&mut self, yearly_sales_yuan: u64) -> Finance {
        let debt_ratio = self.rng.between(2000, 7800);
        let return_on_assets = self.rng.between(50, 1500);
        let total_assets =
            yearly_sales_yuan / 100 * u64::from(self.rng.between(50, 180)) / 10_000 * 10_000;
        let condition = match debt_ratio {
            ..4000 => "资金充裕，回款及时",
            4000..6000 => "财务状况良好，付款基本按期",
            _ => "负债率偏高，需关注应收账款回收",
        };
        Finance {
            debt_ratio: format!("{}.{:02}", debt_ratio / 100, debt_ratio % 100),
            return_on_assets: format!("{}.{:02}", return_on_assets / 100, return_on_assets % 100),
            total_assets: format!("{total_assets}.00"),
            condition: condition.to_owned(),
        }
    }

    /// One or two sources of supply in other demo cities.
    fn supply_sources(&mut self) -> Vec<SupplySource> {
        let count = self.rng.between(1, 2);
        (0..count)
            .map(|_| {
                let city = self.rng.pick(CITIES);
                let (district, _) = *self.rng.pick(city.districts);
                SupplySource {
                    name: format!(
                        "{}{}{}",
                        city.name,
                        self.trade_name(2).0,
                        self.rng.pick(SUPPLIER_KINDS)
                    ),
                    address: self.street_address(city, district),
                    manager: self.person_name().name,
                }
            })
            .collect()
    }

    /// Prospect, new, established, dormant or lost, mostly established.
    fn lifecycle(&mut self) -> Lifecycle {
        self.rng.weighted(&[
            (Lifecycle::Prospect, 10),
            (Lifecycle::New, 15),
            (Lifecycle::Established, 55),
            (Lifecycle::Dormant, 12),
            (Lifecycle::Lost, 8),
        ])
    }

    /// The trade standing, which follows the grade most of the time.
    fn trade_standing(&mut self, grade: Grade) -> TradeStanding {
        let usual = match grade {
            Grade::A => TradeStanding::Key,
            Grade::B if self.rng.chance(1, 2) => TradeStanding::Key,
            Grade::B | Grade::C => TradeStanding::Regular,
            _ => TradeStanding::Occasional,
        };
        if self.rng.chance(1, 10) {
            self.rng.weighted(&[
                (TradeStanding::Key, 1),
                (TradeStanding::Regular, 1),
                (TradeStanding::Occasional, 1),
            ])
        } else {
            usual
        }
    }

    /// The date of the first trade with us, consistent with the lifecycle: none for a prospect,
    /// last year for a new customer, earlier (never before `not_before`) otherwise.
    fn first_trade_date(&mut self, lifecycle: Lifecycle, not_before: u32) -> String {
        let (low, high) = match lifecycle {
            Lifecycle::Prospect | Lifecycle::Unspecified => return String::new(),
            Lifecycle::New => (2025, 2025),
            Lifecycle::Established => (2010, 2023),
            Lifecycle::Dormant | Lifecycle::Lost => (2010, 2022),
        };
        let low = low.max(not_before + 1).min(high);
        let year = self.rng.between(low, high);
        self.date_in(year)
    }

    /// One to three tags; grade A customers are also tagged 重点客户.
    fn tags(&mut self, grade: Grade) -> Vec<String> {
        let count = self.rng.between(1, 3) as usize;
        let mut tags: Vec<String> = Vec::new();
        if grade == Grade::A {
            tags.push("重点客户".to_owned());
        }
        tags.extend(
            self.rng
                .distinct(TAGS, count)
                .into_iter()
                .map(|tag| (*tag).to_owned()),
        );
        tags
    }

    /// One to three of our products, joined with 、.
    fn our_products(&mut self) -> String {
        let count = self.rng.between(1, 3) as usize;
        join(&self.rng.distinct(OUR_PRODUCTS, count), "、")
    }

    /// One or two hobbies, joined with 、.
    fn hobbies(&mut self) -> String {
        let count = self.rng.between(1, 2) as usize;
        join(&self.rng.distinct(HOBBIES, count), "、")
    }

    /// A company address: 浙江省杭州市西湖区文三路 138 号.
    fn street_address(&mut self, city: &City, district: &str) -> String {
        format!(
            "{}{district}{} {} 号",
            city.address_prefix,
            self.rng.pick(city.streets),
            self.rng.between(1, 999)
        )
    }

    /// A home address: 浙江省杭州市西湖区翠苑 12 幢 3 单元 502 室.
    fn home_address(&mut self, city: &City, district: &str) -> String {
        format!(
            "{}{district}{} {} 幢 {} 单元 {}{:02} 室",
            city.address_prefix,
            self.rng.pick(ESTATES),
            self.rng.between(1, 30),
            self.rng.between(1, 4),
            self.rng.between(1, 18),
            self.rng.between(1, 4),
        )
    }

    /// A landline of the city in normal form: `0571-88123456`.
    fn landline(&mut self, city: &City) -> String {
        format!(
            "{}-{}{}",
            city.area_code,
            self.rng.between(5, 8),
            self.rng.digits(7)
        )
    }

    /// A mobile number in normal form: `13812345678`.
    fn mobile(&mut self) -> String {
        format!("{}{}", self.rng.pick(MOBILE_PREFIXES), self.rng.digits(8))
    }

    /// A date in `year`, `YYYY-MM-DD`; days stop at 28 so every month has them.
    fn date_in(&mut self, year: u32) -> String {
        format!(
            "{year:04}-{:02}-{:02}",
            self.rng.between(1, 12),
            self.rng.between(1, 28)
        )
    }
}

/// The team of a member of the sales staff.
fn team_of(sub: &str) -> &'static str {
    SALES_STAFF
        .iter()
        .find(|(staff, _, _)| *staff == sub)
        .map_or("", |(_, _, team)| team)
}

/// The GB 11714 check character of an eight-character organisation code body: weights
/// 3 7 9 10 5 8 4 2, digits count as themselves and letters as A = 10 … Z = 35.
fn organisation_check(body: &str) -> char {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .chars()
        .zip(WEIGHTS)
        .map(|(c, weight)| c.to_digit(36).unwrap_or(0) * weight)
        .sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        digit => char::from_digit(digit, 10).unwrap_or('0'),
    }
}

/// `n` written in the characters of `alphabet`, at least `min_len` long: a word no other `n`
/// gives, together with its pinyin.
fn spell(mut n: u64, min_len: usize, alphabet: &[(&str, &str)]) -> (String, String) {
    let base = alphabet.len() as u64;
    let mut digits = Vec::new();
    while n > 0 || digits.len() < min_len {
        digits.push((n % base) as usize);
        n /= base;
    }
    digits.reverse();
    (
        digits.iter().map(|&d| alphabet[d].0).collect(),
        digits.iter().map(|&d| alphabet[d].1).collect(),
    )
}

/// The items joined by `separator`.
fn join(items: &[&&str], separator: &str) -> String {
    items
        .iter()
        .map(|item| **item)
        .collect::<Vec<_>>()
        .join(separator)
}

// ---------------------------------------------------------------------------------------------
// Random numbers
// ---------------------------------------------------------------------------------------------

/// SplitMix64: tiny, fast and good enough for demo data; its output depends only on the seed,
/// so the data is the same on every machine and every run.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0), by multiply-and-shift rather than modulo.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: u32, high: u32) -> u32 {
        let span = high.saturating_sub(low) as usize + 1;
        low + self.below(span) as u32
    }

    /// True with probability `numerator / denominator`.
    fn chance(&mut self, numerator: usize, denominator: usize) -> bool {
        self.below(denominator) < numerator
    }

    /// One item of a non-empty slice.
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        debug_assert!(!items.is_empty(), "pick from an empty vocabulary");
        &items[self.below(items.len())]
    }

    /// `count` different items of `items` (fewer if it has fewer), in random order.
    fn distinct<'a, T>(&mut self, items: &'a [T], count: usize) -> Vec<&'a T> {
        let mut indices: Vec<usize> = (0..items.len()).collect();
        let count = count.min(items.len());
        // A partial Fisher–Yates shuffle: only the first `count` places are drawn.
        for place in 0..count {
            let other = place + self.below(indices.len() - place);
            indices.swap(place, other);
        }
        indices[..count]
            .iter()
            .map(|&index| &items[index])
            .collect()
    }

    /// An item chosen with probability proportional to its weight.
    fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u32 = items.iter().map(|(_, weight)| weight).sum();
        let mut ticket = self.below(total as usize) as u32;
        for (item, weight) in items {
            if ticket < *weight {
                return *item;
            }
            ticket -= weight;
        }
        debug_assert!(!items.is_empty(), "weighted pick from an empty vocabulary");
        items[items.len() - 1].0
    }

    /// `len` random decimal digits.
    fn digits(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dossier_customer_profile::domain::contact_info::{Email, Phone, Postcode};

    const SEED: u64 = 20_260_101;

    #[test]
    fn credit_codes_are_valid_and_unique() {
        let customers = demo_customers(400, SEED);
        let mut seen = HashSet::new();
        for customer in &customers {
            if customer.kind == CustomerKind::Person as i32 {
                assert!(customer.credit_code.is_empty(), "{}", customer.name);
                continue;
            }
            let parsed = CreditCode::parse(&customer.credit_code);
            assert_eq!(
                parsed.as_ref().map(CreditCode::as_str),
                Ok(customer.credit_code.as_str())
            );
            assert!(
                seen.insert(customer.credit_code.clone()),
                "{}",
                customer.credit_code
            );
        }
        assert!(seen.len() > 300);
    }

    #[test]
    fn names_and_normalised_names_are_unique() {
        let customers = demo_customers(400, SEED);
        let names: HashSet<&str> = customers.iter().map(|c| c.name.as_str()).collect();
        let keys: HashSet<String> = customers.iter().map(|c| normalise_name(&c.name)).collect();
        assert_eq!(names.len(), customers.len());
        assert_eq!(keys.len(), customers.len());
    }

    #[test]
    fn the_same_seed_gives_the_same_data_and_a_larger_count_extends_it() {
        let small = demo_customers(30, SEED);
        assert_eq!(small, demo_customers(30, SEED));
        assert_eq!(small[..], demo_customers(60, SEED)[..30]);
        assert_ne!(small, demo_customers(30, SEED + 1));
    }

    #[test]
    fn a_bench_sized_set_stays_unique() {
        let customers = demo_customers(20_000, 7);
        let keys: HashSet<String> = customers.iter().map(|c| normalise_name(&c.name)).collect();
        let codes: HashSet<&str> = customers.iter().map(|c| c.credit_code.as_str()).collect();
        assert_eq!(keys.len(), customers.len());
        // Individuals share the empty code.
        assert_eq!(codes.len(), customers.len() - customers.len() / 8 + 1);
    }

    #[test]
    fn company_names_stay_unique_when_two_character_trade_names_run_out() {
        // 64 × 63 two-character trade names exist per city and industry; ask for more.
        let mut generator = Generator::new(SEED);
        let city = &CITIES[0];
        let names: HashSet<String> = (0..5_000)
            .map(|index| {
                generator
                    .unique_company_name(index, city, "化工", "有限公司")
                    .0
            })
            .collect();
        assert_eq!(names.len(), 5_000);
    }

    #[test]
    fn spelled_words_differ_for_different_numbers() {
        let words: HashSet<String> = (0..10_000).map(|n| spell(n, 3, MALE_GIVEN).0).collect();
        assert_eq!(words.len(), 10_000);
        assert!(words.iter().all(|word| word.chars().count() >= 3));
    }

    #[test]
    fn contact_fields_are_in_normal_form() {
        for customer in demo_customers(200, SEED) {
            let phones = [&customer.phone, &customer.fax]
                .into_iter()
                .chain(customer.contacts.iter().map(|c| &c.phone))
                .chain(customer.contacts.iter().map(|c| &c.home_phone))
                .filter(|phone| !phone.is_empty());
            for phone in phones {
                assert_eq!(
                    Phone::parse(phone).map(|p| p.to_string()).as_ref(),
                    Ok(phone)
                );
            }
            let emails =
                std::iter::once(&customer.email).chain(customer.contacts.iter().map(|c| &c.email));
            for email in emails {
                assert_eq!(
                    Email::parse(email).map(|e| e.to_string()).as_ref(),
                    Ok(email)
                );
                assert!(email.is_ascii(), "{email}");
            }
            assert!(
                Postcode::parse(&customer.postcode).is_ok(),
                "{}",
                customer.postcode
            );
            assert_eq!(customer.bank_account.len(), 19, "{}", customer.bank_account);
        }
    }

    #[test]
    fn cards_have_the_expected_shape() {
        let customers = demo_customers(400, SEED);
        let persons = customers
            .iter()
            .filter(|c| c.kind == CustomerKind::Person as i32)
            .count();
        assert_eq!(persons, 50);
        for customer in &customers {
            let (_, _, team) = SALES_STAFF
                .iter()
                .find(|(sub, _, _)| *sub == customer.owner_id)
                .copied()
                .unwrap_or_default();
            assert_eq!(customer.team, team, "{}", customer.owner_id);
            assert!(customer.owner_id.starts_with("rep-"));
            assert_eq!(customer.custodian_id, CUSTODIAN);
            assert!(customer.route_order >= 1);
            assert!(customer.id.is_empty() && customer.archive_no.is_empty());
            if customer.kind == CustomerKind::Person as i32 {
                assert_eq!(customer.customer_type, CustomerType::Individual as i32);
                assert!(customer.person.is_some());
                assert!(customer.contacts.is_empty());
                continue;
            }
            assert!(
                (2..=5).contains(&customer.contacts.len()),
                "{}",
                customer.name
            );
            let decision_makers = customer
                .contacts
                .iter()
                .filter(|c| c.role == ContactRole::DecisionMaker as i32)
                .count();
            assert_eq!(decision_makers, 1, "{}", customer.name);
            assert_eq!(customer.contacts[0].role, ContactRole::DecisionMaker as i32);
            assert!((1..=3).contains(&customer.competitors.len()));
            assert!(customer.finance.is_some());
            assert_eq!(customer.founded_date.len(), 10);
        }
    }

    #[test]
    fn route_orders_count_up_within_each_route() {
        let customers = demo_customers(200, SEED);
        let mut last: BTreeMap<&str, i32> = BTreeMap::new();
        for customer in &customers {
            let previous = last
                .insert(&customer.route_code, customer.route_order)
                .unwrap_or(0);
            assert_eq!(
                customer.route_order,
                previous + 1,
                "{}",
                customer.route_code
            );
        }
    }

    #[test]
    fn organisation_check_matches_real_codes() {
        // The organisation parts of two real credit codes.
        assert_eq!(organisation_check("M000100Y"), '4');
        assert_eq!(organisation_check("80210043"), '3');
    }

    #[test]
    fn the_sales_staff_includes_reps_and_managers() {
        let subs: Vec<&str> = demo_sales_reps().iter().map(|(sub, _, _)| *sub).collect();
        for sub in [
            "rep-zhangwei",
            "rep-lina",
            "rep-wangfang",
            "rep-liuyang",
            "mgr-zhaolei",
            "mgr-sunli",
        ] {
            assert!(subs.contains(&sub), "{sub}");
        }
    }
}
