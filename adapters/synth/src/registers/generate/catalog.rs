//! Reference tables for the registers' generator: company names and business items, banks,
//! land sections and zones, providers, diagnoses, orders and lab items.
//!
//! Codes follow the real registers' shapes (GCIS business item codes, ICD-10-CM, NHI fee and
//! lab codes) so the data reads like an extract; names of companies, banks and providers are
//! invented combinations, not a list of real institutions.

/// Characters combined in pairs into company trade names (e.g. 宏達, 永裕).
pub(super) static NAME_CHARS: &[&str] = &[
    "宏", "達", "永", "裕", "興", "隆", "泰", "昌", "盛", "豐", "鼎", "信", "華", "新", "東", "遠",
    "聯", "合", "益", "明", "光", "台", "嘉", "祥", "順", "富", "源", "勝", "億", "金", "瑞", "德",
    "國", "璟", "凱", "晶", "冠", "展", "利", "全", "群", "立", "安", "佳", "成", "通", "振", "榮",
    "茂", "峰", "宇", "亞", "洲", "禾", "碩", "和", "旺", "鑫", "元", "春",
];

/// An industry: the word in the company name and its registered business items.
#[derive(Debug)]
pub(super) struct Industry {
    pub(super) word: &'static str,
    pub(super) items: &'static [(&'static str, &'static str)],
}

/// Every company may also do what no law restricts.
pub(super) const ITEM_GENERAL: (&str, &str) =
    ("ZZ99999", "除許可業務外，得經營法令非禁止或限制之業務");

pub(super) static INDUSTRIES: &[Industry] = &[
    Industry {
        word: "精密",
        items: &[
            ("CB01010", "機械設備製造業"),
            ("CA02990", "其他金屬製品製造業"),
        ],
    },
    Industry {
        word: "電子",
        items: &[
            ("CC01080", "電子零組件製造業"),
            ("F119010", "電子材料批發業"),
        ],
    },
    Industry {
        word: "科技",
        items: &[("I301010", "資訊軟體服務業"), ("F118010", "資訊軟體批發業")],
    },
    Industry {
        word: "資訊",
        items: &[("I301010", "資訊軟體服務業"), ("I301020", "資料處理服務業")],
    },
    Industry {
        word: "國際貿易",
        items: &[("F401010", "國際貿易業"), ("F102170", "食品什貨批發業")],
    },
    Industry {
        word: "實業",
        items: &[("F401010", "國際貿易業"), ("F113020", "電器批發業")],
    },
    Industry {
        word: "建設",
        items: &[
            ("H701010", "住宅及大樓開發租售業"),
            ("H701020", "工業廠房開發租售業"),
        ],
    },
    Industry {
        word: "營造",
        items: &[("E101011", "綜合營造業"), ("E801010", "室內裝潢業")],
    },
    Industry {
        word: "餐飲",
        items: &[("F501060", "餐館業"), ("F501050", "飲酒店業")],
    },
    Industry {
        word: "食品",
        items: &[
            ("C199990", "其他食品製造業"),
            ("F203010", "食品什貨、飲料零售業"),
        ],
    },
    Industry {
        word: "物流",
        items: &[("G801010", "倉儲業"), ("G702010", "貨櫃集散站經營業")],
    },
    Industry {
        word: "管理顧問",
        items: &[("I103060", "管理顧問業"), ("I401010", "一般廣告服務業")],
    },
    Industry {
        word: "生技",
        items: &[("F108031", "醫療器材批發業"), ("IG01010", "生物技術服務業")],
    },
    Industry {
        word: "紡織",
        items: &[("C301010", "紡紗業"), ("C302010", "織布業")],
    },
    Industry {
        word: "汽車",
        items: &[("F114010", "汽車批發業"), ("F214010", "汽車零售業")],
    },
    Industry {
        word: "文創",
        items: &[
            ("I401010", "一般廣告服務業"),
            ("F209060", "文教、樂器、育樂用品零售業"),
        ],
    },
];

/// Business items of a commercial bank.
pub(super) static BANK_ITEMS: &[(&str, &str)] = &[("H101021", "商業銀行業")];

/// Trade names of the synthetic banks (…商業銀行股份有限公司).
pub(super) static BANK_NAMES: &[&str] = &[
    "瑞和", "晉豐", "嘉信", "泰元", "鼎安", "豐隆", "廣信", "鴻泰", "立信", "聯豐", "北辰", "海東",
];

/// Section name stems (段名); later sections of a district become 小段 of the same stems.
pub(super) static SECTION_STEMS: &[&str] = &[
    "仁愛", "中正", "民生", "復興", "光明", "和平", "信義", "文昌", "福德", "大同", "永安", "新生",
];

pub(super) static SECTION_NUMERALS: &[&str] = &["一", "二", "三", "四", "五", "六", "七", "八"];

/// Reasons for a parcel description's registration, with weights.
pub(super) static DESCRIPTION_REASONS: &[(&str, u32)] = &[
    ("地籍圖重測", 30),
    ("第一次登記", 25),
    ("分割", 25),
    ("土地重劃", 10),
    ("合併", 10),
];

/// Urban residential and commercial zones.
pub(super) static HOME_ZONES: &[&str] = &["住宅區", "住宅區", "住宅區", "商業區"];

/// Non-urban zones with the land-use class that usually goes with them.
pub(super) static FARM_ZONES: &[(&str, &str)] = &[
    ("特定農業區", "農牧用地"),
    ("一般農業區", "農牧用地"),
    ("山坡地保育區", "林業用地"),
    ("鄉村區", "乙種建築用地"),
];

/// Zones of public parcels.
pub(super) static PUBLIC_ZONES: &[&str] = &["道路用地", "公園用地", "機關用地", "學校用地"];

/// A kind of provider in a county's synthetic roster; the variant order indexes the roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProviderKind {
    Hospital,
    Clinic,
    Dental,
    Tcm,
    Pharmacy,
}

/// Name stems for providers; combined with the county or a specialty.
pub(super) static HOSPITAL_STEMS: &[&str] = &["博愛", "安康", "慈恩", "惠民"];
pub(super) static CLINIC_NAMES: &[&str] = &[
    "安心家庭醫學科診所",
    "晴光耳鼻喉科診所",
    "康寧內科診所",
    "仁和聯合診所",
    "長青家庭醫學科診所",
    "明德內兒科診所",
];
pub(super) static DENTAL_NAMES: &[&str] = &["佳美牙醫診所", "微笑牙醫診所"];
pub(super) static TCM_NAMES: &[&str] = &["德和中醫診所", "本草堂中醫診所"];
pub(super) static PHARMACY_NAMES: &[&str] = &["康健藥局", "大樹藥局"];

/// A diagnosis (ICD-10-CM code, name).
pub(super) type Diagnosis = (&'static str, &'static str);

pub(super) static DX_OUTPATIENT: &[Diagnosis] = &[
    ("J06.9", "急性上呼吸道感染"),
    ("J02.9", "急性咽炎"),
    ("J20.9", "急性支氣管炎"),
    ("J30.9", "過敏性鼻炎"),
    ("R05.9", "咳嗽"),
    ("K21.9", "胃食道逆流症，未伴有食道炎"),
    ("K59.00", "便秘"),
    ("M54.50", "下背痛"),
    ("M17.9", "膝部骨關節炎"),
    ("N39.0", "泌尿道感染"),
    ("L30.9", "皮膚炎"),
    ("H10.9", "結膜炎"),
    ("R51.9", "頭痛"),
    ("F41.9", "焦慮症"),
    ("G47.00", "失眠症"),
    ("E03.9", "甲狀腺功能低下症"),
];

/// Chronic conditions, followed up in regular visits with lab work.
pub(super) static DX_CHRONIC: &[Diagnosis] = &[
    ("I10", "本態性(原發性)高血壓"),
    ("E11.9", "第二型糖尿病，未伴有併發症"),
    ("E78.5", "高血脂症"),
];

pub(super) static DX_DENTAL: &[Diagnosis] = &[
    ("K02.9", "齲齒"),
    ("K05.10", "慢性牙齦炎，斑菌引起"),
    ("K03.6", "牙齒沉積物(牙結石)"),
    ("K04.7", "根尖周圍膿瘍，未伴有竇道"),
];

pub(super) static DX_TCM: &[Diagnosis] = &[
    ("M54.2", "頸部疼痛"),
    ("R53.83", "其他疲勞"),
    ("K30", "功能性消化不良"),
    ("G47.00", "失眠症"),
];

pub(super) static DX_EMERGENCY: &[Diagnosis] = &[
    ("R10.9", "腹痛"),
    ("R50.9", "發燒"),
    ("R07.9", "胸痛"),
    ("A09", "感染性腸胃炎及大腸炎"),
    ("S93.401A", "右側踝部韌帶扭傷，初期照護"),
    ("S01.81XA", "頭部其他部位撕裂傷，初期照護"),
    ("J18.9", "肺炎"),
];

pub(super) static DX_INPATIENT: &[Diagnosis] = &[
    ("J18.9", "肺炎"),
    ("I63.9", "腦梗塞"),
    ("K35.80", "急性闌尾炎"),
    ("N20.0", "腎結石"),
    ("I21.4", "非ST段上升之心肌梗塞"),
    ("K80.20", "膽囊結石，未伴有膽囊炎及阻塞"),
    ("S72.001A", "右側股骨頸骨折，初期照護"),
    ("I50.9", "心臟衰竭"),
];

/// An order (code, name).
pub(super) type Order = (&'static str, &'static str);

pub(super) const ORDER_OUTPATIENT_FEE: Order = ("00109C", "一般門診診察費");
pub(super) const ORDER_DENTAL_FEE: Order = ("01271C", "牙醫門診診察費");
pub(super) const ORDER_TCM_FEE: Order = ("A02", "中醫門診診察費");
pub(super) const ORDER_EMERGENCY_FEE: Order = ("00203B", "急診診察費");
pub(super) const ORDER_WARD_FEE: Order = ("03026K", "病房費");
pub(super) const ORDER_INPATIENT_FEE: Order = ("02011K", "住院診察費");
pub(super) const ORDER_PHARMACY_FEE: Order = ("05234D", "藥事服務費");

pub(super) static DENTAL_PROCEDURES: &[Order] = &[
    ("89001C", "銀粉充填－單面"),
    ("91004C", "全口牙結石清除"),
    ("34001C", "根尖周X光攝影"),
];

/// Drugs for the chronic conditions (10-character NHI-style codes with invented serials).
pub(super) static CHRONIC_DRUGS: &[Order] = &[
    ("AC44591100", "Amlodipine 5mg"),
    ("AC45824100", "Metformin 500mg"),
    ("AC46117100", "Atorvastatin 20mg"),
];

/// Drugs for acute complaints.
pub(super) static DRUGS: &[Order] = &[
    ("AC38123100", "Acetaminophen 500mg"),
    ("AC41890100", "Cetirizine 10mg"),
    ("AC39402100", "Amoxicillin 500mg"),
    ("AC47275100", "Esomeprazole 40mg"),
    ("AC36051100", "Dextromethorphan 15mg"),
];

/// A lab item: order code, item name, unit, reference range, and the range values are
/// drawn from (low, high, decimals); qualitative items have no unit and a text value.
#[derive(Debug)]
pub(super) struct LabItem {
    pub(super) code: &'static str,
    pub(super) name: &'static str,
    pub(super) unit: &'static str,
    pub(super) reference: &'static str,
    pub(super) low: f64,
    pub(super) high: f64,
    pub(super) decimals: usize,
}

const fn lab(
    code: &'static str,
    name: &'static str,
    unit: &'static str,
    reference: &'static str,
    low: f64,
    high: f64,
    decimals: usize,
) -> LabItem {
    LabItem {
        code,
        name,
        unit,
        reference,
        low,
        high,
        decimals,
    }
}

pub(super) static LAB_ITEMS: &[LabItem] = &[
    lab("09005C", "Glucose 血糖", "mg/dL", "70-99", 72.0, 180.0, 0),
    lab("09015C", "CRE 肌酸酐", "mg/dL", "0.7-1.3", 0.5, 2.1, 1),
    lab("09002C", "BUN 血中尿素氮", "mg/dL", "7-20", 6.0, 35.0, 0),
    lab("09001C", "T-CHO 總膽固醇", "mg/dL", "<200", 130.0, 280.0, 0),
    lab("09004C", "TG 三酸甘油脂", "mg/dL", "<150", 45.0, 380.0, 0),
    lab("09006C", "HbA1c 醣化血紅素", "%", "4.0-5.6", 4.6, 10.5, 1),
    lab("09013C", "UA 尿酸", "mg/dL", "3.5-7.2", 3.0, 9.8, 1),
    lab(
        "09025C",
        "GOT 天門冬胺酸轉胺酶",
        "U/L",
        "8-31",
        10.0,
        80.0,
        0,
    ),
    lab("09026C", "GPT 丙胺酸轉胺酶", "U/L", "0-41", 8.0, 95.0, 0),
    lab(
        "09043C",
        "HDL 高密度脂蛋白膽固醇",
        "mg/dL",
        ">40",
        30.0,
        90.0,
        0,
    ),
    lab(
        "09044C",
        "LDL 低密度脂蛋白膽固醇",
        "mg/dL",
        "<130",
        60.0,
        200.0,
        0,
    ),
    lab("12015C", "CRP C反應性蛋白", "mg/dL", "<0.5", 0.1, 8.0, 1),
    lab("08003C", "Hb 血色素", "g/dL", "12-16", 9.0, 17.0, 1),
];

/// Index of 09005C (glucose) and 09015C (creatinine) in [`LAB_ITEMS`]: the showcase
/// person's guaranteed lab work.
pub(super) const LAB_GLUCOSE: usize = 0;
pub(super) const LAB_CREATININE: usize = 1;

/// The qualitative urine protein test: its values, reference and code.
pub(super) const URINE_PROTEIN: Order = ("06013C", "尿蛋白");
pub(super) static URINE_PROTEIN_VALUES: &[&str] = &["陰性", "陰性", "陰性", "微量", "陽性"];
