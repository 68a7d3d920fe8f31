//! The other four agencies' records about the same synthetic people: land parcels and their
//! owners (地政), income, property and tax payments (財稅), clinic visits and lab results (健保),
//! and companies with their directors (商工).
//!
//! Everything hangs off the [`Population`]: owners, earners, patients and directors are its
//! people, identified by their [`NationalId`]. The registers agree with each other the way the
//! real ones do: a land share in [`LandRegister`] appears as a land property item of the same
//! owner in [`TaxRecords`], the land value tax paid on it appears as a payment, salaries are paid
//! by companies of the [`CompanyRegister`], and a director's investment in their company is a
//! property item.
//!
//! The model is source-neutral: each adapter's source writer (SQL tables, delimited files,
//! JSON exports, the GCIS stand-in's dataset) lays it out in that agency's legacy format.

mod generate;

pub use generate::showcase_person;

use tongdao_core::ids::{BusinessNumber, NationalId};

use crate::population::Population;
use crate::roc::RocDate;

/// The four registers generated for one population.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registers {
    /// 地政: the land register.
    pub land: LandRegister,
    /// 商工: the company register.
    pub commerce: CompanyRegister,
    /// 財稅: income, property and tax payments.
    pub tax: TaxRecords,
    /// 健保: visits and lab results.
    pub health: HealthRecords,
}

impl Registers {
    /// Generates the registers for `population`, deterministically from its seed. Linear in
    /// the number of people.
    pub fn generate(population: &Population) -> Registers {
        generate::registers(population)
    }
}

// ---- land (地政) ------------------------------------------------------------------------------

/// Every parcel of the land register, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LandRegister {
    /// The parcels, sorted by [`ParcelKey`]; keys are unique.
    pub parcels: Vec<Parcel>,
}

/// The key of a parcel (地號).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ParcelKey {
    /// Land office code (地政事務所代碼): 2 uppercase letters, e.g. `AA`.
    pub land_office_code: String,
    /// Section code (段代碼): 4 digits, e.g. `0200`.
    pub section_code: String,
    /// Parcel number (地號): `NNNN-NNNN`, parent and child number.
    pub parcel_number: String,
}

/// One parcel: description (標示部), ownership (所有權部), encumbrances (他項權利部).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parcel {
    /// Its key.
    pub key: ParcelKey,
    /// County or city, e.g. 臺北市.
    pub county: &'static str,
    /// District or township, e.g. 大安區.
    pub district: &'static str,
    /// Section name (段名), e.g. 仁愛段三小段.
    pub section_name: String,
    /// Date of the description's registration.
    pub registered_on: RocDate,
    /// Reason for the description's registration, e.g. 地籍圖重測.
    pub registration_reason: &'static str,
    /// Area in square centimetres (exact: the register keeps 0.01 m²).
    pub area_cm2: i64,
    /// Land-use zone (使用分區), empty if none.
    pub land_use_zone: &'static str,
    /// Land-use class (使用地類別), empty for urban land.
    pub land_use_class: &'static str,
    /// Announced current land value (公告土地現值), NT$ per m².
    pub announced_current_value_per_m2: i64,
    /// Announced land price (公告地價), NT$ per m².
    pub announced_land_price_per_m2: i64,
    /// Buildings on the parcel.
    pub building_count: u32,
    /// Ownership entries; their shares sum to exactly 1.
    pub owners: Vec<Ownership>,
    /// Encumbrances (mortgages and the like).
    pub encumbrances: Vec<Encumbrance>,
}

/// Who owns a share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A person of the population.
    Person {
        /// Their national ID.
        national_id: NationalId,
        /// Their name.
        name: String,
        /// Their registered address, as one line.
        address: String,
    },
    /// A company of the [`CompanyRegister`].
    Company {
        /// Its business number.
        business_number: BusinessNumber,
        /// Its name.
        name: String,
        /// Its registered location.
        address: String,
    },
    /// The state or a local government (公有); no ID.
    Public {
        /// E.g. 中華民國, 臺北市.
        name: &'static str,
    },
}

/// One ownership entry (所有權部).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    /// Register sequence (登記次序), `NNNN`, unique within the parcel.
    pub register_sequence: String,
    /// Date of registration.
    pub registered_on: RocDate,
    /// Reason for registration: 買賣, 繼承, 贈與, 拍賣, 第一次登記.
    pub registration_reason: &'static str,
    /// Date of the cause (on or before `registered_on`).
    pub reason_date: RocDate,
    /// The owner.
    pub owner: Owner,
    /// Share numerator (權利範圍分子), ≥ 1.
    pub share_numerator: u64,
    /// Share denominator (權利範圍分母), ≥ numerator; 1 for sole ownership.
    pub share_denominator: u64,
    /// Declared land price (申報地價), NT$ per m².
    pub declared_land_price_per_m2: i64,
    /// Previous transfer value (前次移轉現值), NT$ per m².
    pub previous_transfer_value_per_m2: i64,
    /// Month the previous transfer value refers to (day 1).
    pub previous_transfer_on: RocDate,
}

/// Kind of encumbrance (他項權利種類).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncumbranceKind {
    /// 普通抵押權
    Mortgage,
    /// 最高限額抵押權
    MaximumAmountMortgage,
    /// 地上權
    Superficies,
}

impl EncumbranceKind {
    /// The register's wording.
    pub fn label(self) -> &'static str {
        match self {
            EncumbranceKind::Mortgage => "普通抵押權",
            EncumbranceKind::MaximumAmountMortgage => "最高限額抵押權",
            EncumbranceKind::Superficies => "地上權",
        }
    }
}

/// One encumbrance (他項權利部).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encumbrance {
    /// Register sequence, `NNNN-000`.
    pub register_sequence: String,
    /// Kind of right.
    pub kind: EncumbranceKind,
    /// Date of registration.
    pub registered_on: RocDate,
    /// Reason, e.g. 設定.
    pub registration_reason: &'static str,
    /// Holder's name (a bank of the company register).
    pub holder_name: String,
    /// Holder's business number.
    pub holder_business_number: BusinessNumber,
    /// Secured amount, NT$ (0 for a superficies).
    pub secured_amount: i64,
    /// Due date of the claim or end of the right's term.
    pub due_on: RocDate,
    /// Encumbered share numerator.
    pub share_numerator: u64,
    /// Encumbered share denominator.
    pub share_denominator: u64,
    /// Register sequences of the ownership entries it encumbers.
    pub encumbered_sequences: Vec<String>,
}

// ---- commerce (商工) --------------------------------------------------------------------------

/// Every company of the register, in business-number order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompanyRegister {
    /// The companies, sorted by business number (unique).
    pub companies: Vec<Company>,
}

/// Company status (公司狀況) with the registry's two-digit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompanyStatus {
    /// 01 核准設立
    ApprovedIncorporation,
    /// 02 核准登記
    ApprovedRegistration,
    /// 03 廢止
    Annulled,
    /// 05 解散
    Dissolved,
    /// 06 停業
    Suspended,
}

impl CompanyStatus {
    /// The registry's code, e.g. `01`.
    pub fn code(self) -> &'static str {
        match self {
            CompanyStatus::ApprovedIncorporation => "01",
            CompanyStatus::ApprovedRegistration => "02",
            CompanyStatus::Annulled => "03",
            CompanyStatus::Dissolved => "05",
            CompanyStatus::Suspended => "06",
        }
    }

    /// The registry's description, e.g. 核准設立.
    pub fn label(self) -> &'static str {
        match self {
            CompanyStatus::ApprovedIncorporation => "核准設立",
            CompanyStatus::ApprovedRegistration => "核准登記",
            CompanyStatus::Annulled => "廢止",
            CompanyStatus::Dissolved => "解散",
            CompanyStatus::Suspended => "停業",
        }
    }
}

/// A company's registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    /// Unified business number, valid checksum, unique.
    pub business_number: BusinessNumber,
    /// Company name, e.g. 宏達精密股份有限公司; banks end in 商業銀行股份有限公司.
    pub name: String,
    /// Status.
    pub status: CompanyStatus,
    /// Authorised capital, NT$.
    pub capital_stock_amount: i64,
    /// Paid-in capital, NT$ (≤ authorised).
    pub paid_in_capital_amount: i64,
    /// Name of the responsible person (the 董事長, a director below).
    pub responsible_person_name: String,
    /// Registered location, one line.
    pub location: String,
    /// Registering organisation, e.g. 經濟部商業發展署 or 臺北市政府.
    pub registering_organisation: &'static str,
    /// Date of incorporation.
    pub setup_date: RocDate,
    /// Date of the last approved change (≥ setup date).
    pub last_change_date: RocDate,
    /// Business suspension (start, end), only when [`CompanyStatus::Suspended`].
    pub suspension: Option<(RocDate, RocDate)>,
    /// Registered business items (code, description), e.g. (`CC01080`, 電子零組件製造業).
    pub business_items: Vec<(&'static str, &'static str)>,
    /// Directors and supervisors, 董事長 first.
    pub directors: Vec<Director>,
}

/// One director or supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Director {
    /// 董事長, 董事, 監察人 or 代表人.
    pub position: &'static str,
    /// The person; the registry knows the ID, the open data never shows it.
    pub national_id: NationalId,
    /// Their name.
    pub name: String,
    /// Juristic person they represent, empty if none.
    pub juristic_person_name: String,
    /// Shares held.
    pub shareholding: u64,
}

// ---- tax (財稅) -------------------------------------------------------------------------------

/// Income, property and tax payment records, each list sorted by (national ID, year).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaxRecords {
    /// Income items (所得資料).
    pub income: Vec<IncomeRecord>,
    /// Property items (財產資料).
    pub property: Vec<PropertyRecord>,
    /// Paid tax bills (繳納資料).
    pub payments: Vec<PaymentRecord>,
}

/// One income item as reported by its payer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomeRecord {
    /// Income year, ROC.
    pub income_year_roc: u16,
    /// Earner.
    pub earner_national_id: NationalId,
    /// Earner's name.
    pub earner_name: String,
    /// Income format code: 50, 51, 53, 54, 5A, 5B, 5C, 9A, 9B, 92.
    pub income_format_code: &'static str,
    /// Its name, e.g. 薪資.
    pub income_format_name: &'static str,
    /// Payer: a company of the register (or, for rent, a person's name and no number).
    pub payer_name: String,
    /// Payer's business number; `None` when the payer is a natural person.
    pub payer_business_number: Option<BusinessNumber>,
    /// Gross amount, NT$.
    pub gross_amount: i64,
    /// Tax withheld, NT$.
    pub tax_withheld: i64,
    /// Net amount = gross − withheld.
    pub net_amount: i64,
}

/// Kind of property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropertyKind {
    /// 土地
    Land,
    /// 房屋
    Building,
    /// 汽機車
    Vehicle,
    /// 投資
    Investment,
}

impl PropertyKind {
    /// The tax register's wording.
    pub fn label(self) -> &'static str {
        match self {
            PropertyKind::Land => "土地",
            PropertyKind::Building => "房屋",
            PropertyKind::Vehicle => "汽機車",
            PropertyKind::Investment => "投資",
        }
    }
}

/// One property item of a year. Fields that do not apply to the kind are empty or zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyRecord {
    /// Year of attribution, ROC.
    pub year_roc: u16,
    /// Owner.
    pub owner_national_id: NationalId,
    /// Owner's name.
    pub owner_name: String,
    /// Kind.
    pub kind: PropertyKind,
    /// Land: county + district + section name; building: house address.
    pub location: String,
    /// Land: parcel number `NNNN-NNNN` (same as the land register); building: `NNNNN-000`.
    pub parcel_or_building_number: String,
    /// Vehicle plate, e.g. `ABC-1234`.
    pub plate_number: String,
    /// Whole area in cm² (land, building).
    pub area_cm2: i64,
    /// Owner's share numerator (same as the land register for land).
    pub share_numerator: u64,
    /// Owner's share denominator.
    pub share_denominator: u64,
    /// Assessed value of the owner's share, NT$.
    pub assessed_value: i64,
    /// Date of acquisition (for land: the ownership's registration date).
    pub acquired_on: RocDate,
    /// Investee's name (investments).
    pub investee_name: String,
    /// Investee's business number (investments).
    pub investee_business_number: Option<BusinessNumber>,
    /// Shares held (investments; equals the director's shareholding for their company).
    pub share_count: u64,
}

/// Kind of tax of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaxKind {
    /// 房屋稅
    HouseTax,
    /// 地價稅
    LandValueTax,
    /// 使用牌照稅
    LicenceTax,
}

impl TaxKind {
    /// The tax register's wording.
    pub fn label(self) -> &'static str {
        match self {
            TaxKind::HouseTax => "房屋稅",
            TaxKind::LandValueTax => "地價稅",
            TaxKind::LicenceTax => "使用牌照稅",
        }
    }
}

/// One paid tax bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    /// Tax year, ROC.
    pub tax_year_roc: u16,
    /// Taxpayer.
    pub taxpayer_national_id: NationalId,
    /// Taxpayer's name.
    pub taxpayer_name: String,
    /// Kind of tax.
    pub kind: TaxKind,
    /// Tax registration number (稅籍編號) or the vehicle's plate.
    pub tax_registration_number: String,
    /// Location: house address, land section + parcel number, or the plate.
    pub property_location: String,
    /// Amount paid, NT$ (> 0).
    pub amount_paid: i64,
    /// Date of payment.
    pub paid_on: RocDate,
}

// ---- health (健保) ----------------------------------------------------------------------------

/// Visits and lab results, each list sorted by (national ID, date).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthRecords {
    /// Visits (就醫紀錄).
    pub visits: Vec<VisitRecord>,
    /// Lab results (檢驗檢查結果).
    pub lab_results: Vec<LabRecord>,
}

/// Type of visit (就醫類別) with My Health Bank's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VisitType {
    /// 西醫門診
    WesternOutpatient,
    /// 中醫門診
    TcmOutpatient,
    /// 牙醫門診
    DentalOutpatient,
    /// 急診
    Emergency,
    /// 住院
    Inpatient,
    /// 交付調劑
    PharmacyDispensing,
}

impl VisitType {
    /// My Health Bank's wording.
    pub fn label(self) -> &'static str {
        match self {
            VisitType::WesternOutpatient => "西醫門診",
            VisitType::TcmOutpatient => "中醫門診",
            VisitType::DentalOutpatient => "牙醫門診",
            VisitType::Emergency => "急診",
            VisitType::Inpatient => "住院",
            VisitType::PharmacyDispensing => "交付調劑",
        }
    }
}

/// One visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitRecord {
    /// The insured person.
    pub national_id: NationalId,
    /// Their name.
    pub name: String,
    /// Type of visit.
    pub visit_type: VisitType,
    /// NHI branch, 1–6 (臺北, 北區, 中區, 南區, 高屏, 東區), from the provider's county.
    pub nhi_branch: u8,
    /// Provider code, 10 digits.
    pub provider_code: String,
    /// Provider name, e.g. 國立臺灣大學醫學院附設醫院 or 安心診所.
    pub provider_name: String,
    /// Visit (or admission) date.
    pub visit_date: RocDate,
    /// Discharge or end date for inpatient stays.
    pub end_date: Option<RocDate>,
    /// Card sequence, e.g. `0012`, or an exception code such as `IC06`.
    pub sequence: String,
    /// Diagnoses (ICD-10-CM code, name), primary first, 1–5.
    pub diagnoses: Vec<(&'static str, &'static str)>,
    /// Copayment code, e.g. `C10`, `001`.
    pub copay_code: &'static str,
    /// Points claimed.
    pub claimed_points: i64,
    /// Orders (code, name, quantity as a decimal string).
    pub orders: Vec<(&'static str, &'static str, String)>,
}

/// One lab result, ordered in a visit of the same person and provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabRecord {
    /// The insured person.
    pub national_id: NationalId,
    /// Their name.
    pub name: String,
    /// Provider code.
    pub provider_code: String,
    /// Provider name.
    pub provider_name: String,
    /// Date of the visit it was ordered in.
    pub visit_date: RocDate,
    /// Report date (≥ visit date).
    pub report_date: RocDate,
    /// Order code, e.g. `09015C`.
    pub order_code: &'static str,
    /// Item name, e.g. CRE 肌酸酐.
    pub item_name: &'static str,
    /// Value as reported, e.g. `0.9` or `陰性`.
    pub value: String,
    /// Unit, empty for qualitative results.
    pub unit: &'static str,
    /// Reference range, e.g. `0.7-1.3`.
    pub reference_range: &'static str,
}
