//! Reference tables for the generator: places, names, streets, tribes.
//!
//! Real county, district and tribe names so that the data looks like a registry extract; the
//! villages are a small plausible sample, not a gazetteer. Weights are rough population shares
//! (per mille) so that e.g. 新北市 is common and 連江縣 rare.

/// A county or city with the national-ID letter of its registration area.
#[derive(Debug)]
pub(crate) struct County {
    pub(crate) name: &'static str,
    pub(crate) letter: char,
    pub(crate) weight: u32,
    pub(crate) districts: &'static [District],
}

/// A district/township and some of its villages.
#[derive(Debug)]
pub(crate) struct District {
    pub(crate) name: &'static str,
    pub(crate) villages: &'static [&'static str],
}

const fn d(name: &'static str, villages: &'static [&'static str]) -> District {
    District { name, villages }
}

/// Current counties and cities. The retired letters L, R, S, Y (pre-2010 counties and
/// 陽明山) are not generated.
pub(crate) static COUNTIES: &[County] = &[
    County {
        name: "臺北市",
        letter: 'A',
        weight: 108,
        districts: &[
            d("大安區", &["龍安里", "錦安里", "學府里"]),
            d("信義區", &["三張里", "興雅里", "西村里"]),
            d("士林區", &["天母里", "芝山里"]),
        ],
    },
    County {
        name: "臺中市",
        letter: 'B',
        weight: 122,
        districts: &[
            d("西屯區", &["福安里", "何厝里"]),
            d("北屯區", &["平和里", "大坑里"]),
            d("豐原區", &["豐田里", "南嵩里"]),
        ],
    },
    County {
        name: "基隆市",
        letter: 'C',
        weight: 16,
        districts: &[d("仁愛區", &["仁德里", "花崗里"]), d("七堵區", &["正光里"])],
    },
    County {
        name: "臺南市",
        letter: 'D',
        weight: 79,
        districts: &[
            d("東區", &["大學里", "崇德里"]),
            d("安平區", &["金城里", "石門里"]),
            d("新營區", &["三仙里"]),
        ],
    },
    County {
        name: "高雄市",
        letter: 'E',
        weight: 116,
        districts: &[
            d("三民區", &["鼎金里", "寶泰里"]),
            d("苓雅區", &["林西里", "五權里"]),
            d("鳳山區", &["文山里", "誠義里"]),
        ],
    },
    County {
        name: "新北市",
        letter: 'F',
        weight: 171,
        districts: &[
            d("板橋區", &["文化里", "海山里"]),
            d("新店區", &["大豐里", "安和里"]),
            d("淡水區", &["沙崙里", "竿蓁里"]),
        ],
    },
    County {
        name: "宜蘭縣",
        letter: 'G',
        weight: 19,
        districts: &[
            d("宜蘭市", &["新興里", "民族里"]),
            d("羅東鎮", &["仁愛里", "公正里"]),
        ],
    },
    County {
        name: "桃園市",
        letter: 'H',
        weight: 98,
        districts: &[
            d("中壢區", &["中堅里", "興南里"]),
            d("桃園區", &["中正里", "大林里"]),
        ],
    },
    County {
        name: "新竹縣",
        letter: 'J',
        weight: 25,
        districts: &[d("竹北市", &["東平里", "鹿場里"]), d("竹東鎮", &["商華里"])],
    },
    County {
        name: "苗栗縣",
        letter: 'K',
        weight: 23,
        districts: &[d("苗栗市", &["綠苗里"]), d("頭份市", &["斗坪里"])],
    },
    County {
        name: "南投縣",
        letter: 'M',
        weight: 20,
        districts: &[d("南投市", &["三和里"]), d("埔里鎮", &["大城里"])],
    },
    County {
        name: "彰化縣",
        letter: 'N',
        weight: 53,
        districts: &[d("彰化市", &["光復里", "南興里"]), d("員林市", &["三橋里"])],
    },
    County {
        name: "新竹市",
        letter: 'O',
        weight: 19,
        districts: &[d("東區", &["光明里", "科園里"]), d("北區", &["中興里"])],
    },
    County {
        name: "雲林縣",
        letter: 'P',
        weight: 28,
        districts: &[d("斗六市", &["三光里"]), d("虎尾鎮", &["平和里"])],
    },
    County {
        name: "嘉義縣",
        letter: 'Q',
        weight: 21,
        districts: &[d("太保市", &["太保里"]), d("民雄鄉", &["東湖村"])],
    },
    County {
        name: "屏東縣",
        letter: 'T',
        weight: 34,
        districts: &[
            d("屏東市", &["勝利里"]),
            d("三地門鄉", &["三地村"]),
            d("恆春鎮", &["山腳里"]),
        ],
    },
    County {
        name: "花蓮縣",
        letter: 'U',
        weight: 14,
        districts: &[
            d("花蓮市", &["國強里", "民意里"]),
            d("秀林鄉", &["秀林村"]),
            d("吉安鄉", &["太昌村"]),
        ],
    },
    County {
        name: "臺東縣",
        letter: 'V',
        weight: 10,
        districts: &[
            d("臺東市", &["寶桑里"]),
            d("卑南鄉", &["初鹿村"]),
            d("蘭嶼鄉", &["紅頭村"]),
        ],
    },
    County {
        name: "澎湖縣",
        letter: 'X',
        weight: 5,
        districts: &[d("馬公市", &["重光里"])],
    },
    County {
        name: "嘉義市",
        letter: 'I',
        weight: 11,
        districts: &[d("東區", &["王田里"]), d("西區", &["北湖里"])],
    },
    County {
        name: "金門縣",
        letter: 'W',
        weight: 6,
        districts: &[d("金城鎮", &["東門里"])],
    },
    County {
        name: "連江縣",
        letter: 'Z',
        weight: 1,
        districts: &[d("南竿鄉", &["介壽村"])],
    },
];

/// Indexes of counties where indigenous households are placed most of the time.
pub(crate) static INDIGENOUS_COUNTY_NAMES: &[&str] = &["花蓮縣", "臺東縣", "屏東縣", "南投縣"];

/// Common surnames with rough weights (陳 ≈ 11 %).
pub(crate) static SURNAMES: &[(&str, u32)] = &[
    ("陳", 110),
    ("林", 83),
    ("黃", 60),
    ("張", 53),
    ("李", 51),
    ("王", 41),
    ("吳", 40),
    ("劉", 32),
    ("蔡", 29),
    ("楊", 26),
    ("許", 23),
    ("鄭", 19),
    ("謝", 18),
    ("郭", 17),
    ("洪", 16),
    ("曾", 15),
    ("邱", 15),
    ("廖", 14),
    ("賴", 14),
    ("周", 14),
    ("徐", 13),
    ("蘇", 12),
    ("葉", 12),
    ("莊", 12),
    ("呂", 11),
    ("江", 11),
    ("何", 10),
    ("蕭", 10),
    ("羅", 10),
    ("高", 9),
    ("潘", 8),
    ("簡", 8),
    ("朱", 8),
    ("鍾", 8),
    ("游", 8),
    ("彭", 7),
    ("詹", 7),
    ("胡", 6),
    ("施", 6),
    ("沈", 6),
    ("余", 6),
    ("盧", 5),
    ("梁", 5),
    ("趙", 5),
    ("顏", 5),
    ("柯", 5),
    ("翁", 5),
    ("魏", 5),
    ("孫", 4),
    ("戴", 4),
];

/// Given-name characters used mostly for men.
pub(crate) static GIVEN_MALE: &[&str] = &[
    "志", "明", "俊", "傑", "建", "宏", "家", "豪", "冠", "宇", "承", "翰", "柏", "廷", "宗", "哲",
    "文", "彥", "信", "偉", "國", "華", "正", "雄", "育", "誠", "振", "榮", "勝", "德", "義", "賢",
    "凱", "銘", "耀", "仁", "昌", "輝", "博", "祥",
];

/// Given-name characters used mostly for women.
pub(crate) static GIVEN_FEMALE: &[&str] = &[
    "淑", "芬", "美", "玲", "怡", "君", "雅", "婷", "佳", "慧", "惠", "秀", "英", "麗", "珍", "欣",
    "詩", "涵", "宜", "蓁", "思", "妤", "瑜", "萱", "雨", "晴", "靜", "玉", "蘭", "梅", "琪", "娟",
    "筱", "鈺", "庭", "薇", "嘉", "采", "郁", "心",
];

/// Surnames and name parts for spouses born abroad (Vietnamese names as registered in Chinese
/// characters).
pub(crate) static FOREIGN_SURNAMES: &[&str] = &["阮", "黎", "范", "陳", "武"];
/// Middle name of Vietnamese women's names as written in Chinese characters.
pub(crate) const FOREIGN_FEMALE_MIDDLE: &str = "氏";
/// Middle name of Vietnamese men's names as written in Chinese characters.
pub(crate) const FOREIGN_MALE_MIDDLE: &str = "文";
/// Birthplaces of spouses born abroad.
pub(crate) static FOREIGN_BIRTHPLACES: &[&str] = &["越南", "印尼", "菲律賓", "泰國"];

/// Street names; a 段 (section) is added to some.
pub(crate) static STREETS: &[&str] = &[
    "中山路",
    "中正路",
    "民生路",
    "民權路",
    "民族路",
    "忠孝東路",
    "仁愛路",
    "信義路",
    "和平東路",
    "復興南路",
    "建國路",
    "光復路",
    "成功路",
    "文化路",
    "自由路",
    "三民路",
    "公園路",
    "大同路",
    "中華路",
    "勝利路",
];

/// Chinese numerals for road sections (段).
pub(crate) static SECTION_NUMERALS: &[&str] = &["一", "二", "三", "四", "五"];

/// Birth order of sons (出生別), which is also the 稱謂 of the head's sons.
pub(crate) static SON_ORDER: &[&str] = &["長子", "次子", "三子", "四子", "五子", "六子"];

/// Birth order of daughters.
pub(crate) static DAUGHTER_ORDER: &[&str] = &["長女", "次女", "三女", "四女", "五女", "六女"];

/// Indigenous status of a tribe's members in most cases (平地/山地).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Region {
    Plains,
    Mountain,
}

/// The 16 officially recognised indigenous peoples, with the status most of their members
/// hold and a rough weight.
pub(crate) static TRIBES: &[(&str, Region, u32)] = &[
    ("阿美族", Region::Plains, 380),
    ("排灣族", Region::Mountain, 180),
    ("泰雅族", Region::Mountain, 170),
    ("布農族", Region::Mountain, 110),
    ("太魯閣族", Region::Mountain, 60),
    ("卑南族", Region::Plains, 30),
    ("魯凱族", Region::Mountain, 30),
    ("賽德克族", Region::Mountain, 20),
    ("鄒族", Region::Mountain, 10),
    ("賽夏族", Region::Mountain, 10),
    ("雅美族", Region::Mountain, 10),
    ("噶瑪蘭族", Region::Plains, 5),
    ("撒奇萊雅族", Region::Plains, 5),
    ("邵族", Region::Plains, 3),
    ("拉阿魯哇族", Region::Mountain, 2),
    ("卡那卡那富族", Region::Mountain, 2),
];
