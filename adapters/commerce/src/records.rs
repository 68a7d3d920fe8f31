//! GCIS JSON objects → `tongdao.commerce.v1` messages through the declarative mapping
//! (`mapping.toml`, reference `adapters/MAPPING.md`): one record mapping per kind of object;
//! the repeated parts of a company (business items, directors) are mapped element by element
//! here and added to it.
//!
//! An object maps whole or not at all: the first failing field fails it, and a company with
//! one bad business item or director is not served.

use std::path::Path;

use serde_json::{Map, Value};
use tongdao_adapter_sdk::mapping::{Mapping, RecordMapping, RowError};
use tongdao_schemas::commerce::v1::{BusinessItem, Company, Director, Directorship};

/// The shipped mapping, embedded.
pub const SHIPPED_MAPPING: &str = include_str!("../mapping.toml");
/// The name the shipped mapping's errors carry.
const SHIPPED_ORIGIN: &str = "adapters/commerce/mapping.toml";

/// Why an object could not be mapped: where the value came from and the problem. Carries no
/// source value, so it can be logged whatever the object held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} → {field}: {problem}")]
pub struct RecordError {
    /// The JSON key, e.g. `Company_Setup_Date`, prefixed for elements, e.g.
    /// `Cmp_Business[2].Business_Item_Desc` or `directors[1].Person_Shareholding`.
    pub key: String,
    /// The target field, e.g. `setup_date`.
    pub field: String,
    /// snake_case problem, the metric's `reason` label: the mapping's (`missing`,
    /// `not_integer`, `out_of_range`, `bad_date`, `unknown_code`, …) or `wrong_type` for an
    /// element that is not a JSON object.
    pub problem: &'static str,
}

impl From<RowError> for RecordError {
    fn from(error: RowError) -> Self {
        RecordError {
            key: error.source_ref,
            field: error.field,
            problem: error.problem.reason(),
        }
    }
}

impl RecordError {
    /// The same error about element `index` of the list `list`.
    pub fn within(self, list: &str, index: usize) -> RecordError {
        RecordError {
            key: format!("{list}[{index}].{}", self.key),
            field: self.field,
            problem: self.problem,
        }
    }
}

/// The four record mappings the adapter needs, checked to build the right messages.
#[derive(Debug, Clone)]
pub struct CommerceMapping {
    company: RecordMapping,
    business_item: RecordMapping,
    director: RecordMapping,
    directorship: RecordMapping,
}

impl CommerceMapping {
    /// The shipped mapping.
    pub fn shipped() -> Result<CommerceMapping, Vec<String>> {
        CommerceMapping::parse(SHIPPED_ORIGIN, SHIPPED_MAPPING)
    }

    /// A mapping file replacing the shipped one (`[adapters.commerce] mapping`).
    pub fn load(path: &Path) -> Result<CommerceMapping, Vec<String>> {
        let mapping = Mapping::load(path).map_err(|e| e.0)?;
        CommerceMapping::from_mapping(&path.display().to_string(), &mapping)
    }

    /// A mapping from text; `origin` names it in errors.
    pub fn parse(origin: &str, text: &str) -> Result<CommerceMapping, Vec<String>> {
        let mapping = Mapping::parse(origin, text).map_err(|e| e.0)?;
        CommerceMapping::from_mapping(origin, &mapping)
    }

    fn from_mapping(origin: &str, mapping: &Mapping) -> Result<CommerceMapping, Vec<String>> {
        let mut problems = Vec::new();
        let mut take = |name: &str, message: &str| match mapping.record(name) {
            Some(record) if record.message_name() == message => Some(record.clone()),
            Some(record) => {
                problems.push(format!(
                    "{origin}: [records.{name}] must build {message}, not {}",
                    record.message_name()
                ));
                None
            }
            None => {
                problems.push(format!(
                    "{origin}: [records.{name}] (message {message}) is missing"
                ));
                None
            }
        };
        let company = take("company", "tongdao.commerce.v1.Company");
        let business_item = take("business_item", "tongdao.commerce.v1.BusinessItem");
        let director = take("director", "tongdao.commerce.v1.Director");
        let directorship = take("directorship", "tongdao.commerce.v1.Directorship");
        match (company, business_item, director, directorship) {
            (Some(company), Some(business_item), Some(director), Some(directorship)) => {
                Ok(CommerceMapping {
                    company,
                    business_item,
                    director,
                    directorship,
                })
            }
            _ => Err(problems),
        }
    }

    /// A company (`應用三` object) with its business items; directors are added by the caller.
    pub fn company(&self, object: &Map<String, Value>) -> Result<Company, RecordError> {
        let mut company: Company = self.company.apply_to(object)?;
        company.business_items = match object.get("Cmp_Business") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(item) => self
                        .business_item(item)
                        .map_err(|e| e.within("Cmp_Business", i)),
                    _ => Err(RecordError {
                        key: format!("Cmp_Business[{i}]"),
                        field: "business_items".into(),
                        problem: "wrong_type",
                    }),
                })
                .collect::<Result<_, _>>()?,
            // Some exports write "no items" as a blank string.
            Some(Value::String(s)) if is_blank(s) => Vec::new(),
            Some(_) => {
                return Err(RecordError {
                    key: "Cmp_Business".into(),
                    field: "business_items".into(),
                    problem: "wrong_type",
                });
            }
        };
        Ok(company)
    }

    /// One `Cmp_Business` element.
    pub fn business_item(&self, object: &Map<String, Value>) -> Result<BusinessItem, RecordError> {
        Ok(self.business_item.apply_to(object)?)
    }

    /// One director object.
    pub fn director(&self, object: &Map<String, Value>) -> Result<Director, RecordError> {
        Ok(self.director.apply_to(object)?)
    }

    /// One directorship object of the internal endpoint.
    pub fn directorship(&self, object: &Map<String, Value>) -> Result<Directorship, RecordError> {
        Ok(self.directorship.apply_to(object)?)
    }
}

fn is_blank(text: &str) -> bool {
    text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{3000}')
        .is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tongdao_schemas::commerce::v1::{CompanyStatus, RocDate};

    fn object(json: &str) -> Map<String, Value> {
        match serde_json::from_str(json) {
            Ok(Value::Object(map)) => map,
            other => panic!("test JSON is not an object: {other:?}"),
        }
    }

    fn mapping() -> CommerceMapping {
        CommerceMapping::shipped().unwrap_or_else(|e| panic!("shipped mapping: {e:?}"))
    }

    const COMPANY: &str = r#"{"Business_Accounting_NO":"22099131","Company_Status":"01",
        "Company_Status_Desc":"核准設立","Company_Name":"台灣積體電路製造股份有限公司   ",
        "Capital_Stock_Amount":"280,500,000,000","Paid_In_Capital_Amount":259323700670,
        "Responsible_Name":"魏哲家","Company_Location":" 新竹科學園區新竹市力行六路8號　",
        "Register_Organization_Desc":"國家科學及技術委員會新竹科學園區管理局",
        "Company_Setup_Date":"0760221","Change_Of_Approval_Data":"1150618",
        "Revoke_App_Date":"       ","Sus_Beg_Date":"","Case_Status":"",
        "Cmp_Business":[{"Business_Seq_NO":"0001","Business_Item":"CC01080","Business_Item_Desc":"電子零組件製造業"},
                        {"Business_Seq_NO":"0011","Business_Item":"       ","Business_Item_Desc":"１．依客戶之訂單，設計製造  "}]}"#;

    #[test]
    fn a_company_with_every_quirk_maps() {
        let company = mapping().company(&object(COMPANY)).expect("maps");
        assert_eq!(company.business_number, "22099131");
        assert_eq!(company.name, "台灣積體電路製造股份有限公司");
        assert_eq!(company.status(), CompanyStatus::ApprovedIncorporation);
        assert_eq!(company.capital_stock_amount, 280_500_000_000);
        assert_eq!(company.paid_in_capital_amount, 259_323_700_670);
        assert_eq!(company.location, "新竹科學園區新竹市力行六路8號");
        assert_eq!(
            company.setup_date,
            Some(RocDate {
                year: 76,
                month: 2,
                day: 21
            })
        );
        assert_eq!(company.suspension_start, None);
        assert_eq!(company.suspension_end, None);
        assert_eq!(company.business_items.len(), 2);
        assert_eq!(company.business_items[1].code, "");
        assert_eq!(
            company.business_items[1].description,
            "１．依客戶之訂單，設計製造"
        );
    }

    #[test]
    fn bad_objects_fail_whole() {
        let m = mapping();
        let bad = |key: &str, value: Value| {
            let mut o = object(COMPANY);
            o.insert(key.to_owned(), value);
            m.company(&o).map(|_| ()).map_err(|e| (e.key, e.problem))
        };
        assert_eq!(
            bad("Company_Setup_Date", "0761399".into()),
            Err(("Company_Setup_Date".into(), "bad_date"))
        );
        assert_eq!(
            bad("Company_Setup_Date", "       ".into()),
            Err(("Company_Setup_Date".into(), "missing"))
        );
        assert_eq!(
            bad("Company_Status", "07".into()),
            Err(("Company_Status".into(), "unknown_code"))
        );
        assert_eq!(
            bad("Capital_Stock_Amount", "12.5".into()),
            Err(("Capital_Stock_Amount".into(), "not_integer"))
        );
        assert_eq!(
            bad("Cmp_Business", Value::from(3)),
            Err(("Cmp_Business".into(), "wrong_type"))
        );
        assert_eq!(
            bad(
                "Cmp_Business",
                serde_json::json!([{"Business_Item": "CC01080"}])
            ),
            Err(("Cmp_Business[0].Business_Item_Desc".into(), "missing"))
        );
        assert_eq!(bad("Cmp_Business", "".into()), Ok(()));
        let director = object(
            r#"{"Person_Position_Name":"董事","Person_Name":"王","Person_Shareholding":"-5"}"#,
        );
        assert_eq!(
            m.director(&director).map_err(|e| e.problem),
            Err("out_of_range")
        );
    }

    #[test]
    fn a_mapping_missing_a_record_is_refused() {
        let text = SHIPPED_MAPPING.replace("[records.director]", "[records.board_member]");
        let text = text.replace("[records.director.fields]", "[records.board_member.fields]");
        let problems = CommerceMapping::parse("custom.toml", &text).expect_err("refused");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("custom.toml") && p.contains("[records.director]")),
            "{problems:?}"
        );
    }
}
