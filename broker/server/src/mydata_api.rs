//! `tongdao.v1.MyData`: "who used my data". A citizen lists every exchange about them, each
//! with its log records and their inclusion proofs against a signed checkpoint, so they can
//! check offline that what they are shown is what the log holds. Accesses under a rule that
//! defers disclosure are withheld until their release date; the citizen is told how many.

use std::collections::BTreeMap;

use tongdao_audit::{AuditRecord, Found, Timestamp};
use tongdao_core::{Principal, Reason, Rejection, ids::NationalId};
use tongdao_policy::Policy;
use tongdao_schemas::v1::{
    ListExchangesRequest, ListExchangesResponse, MyDataEntry, ProvenRecord, my_data_server::MyData,
};
use tonic::{Request, Response, Status};

use crate::{audit::Auditor, policy::PolicyHandle};

/// `tongdao.v1.MyData`.
#[derive(Debug, Clone)]
pub(crate) struct MyDataApi {
    pub(crate) auditor: Auditor,
    pub(crate) policy: PolicyHandle,
}

fn unavailable(error: impl std::fmt::Display) -> Status {
    tracing::warn!(%error, "MyData API could not read the audit log");
    Rejection::new(
        Reason::AuditUnavailable,
        "the audit log cannot be read right now",
    )
    .into_status()
}

/// The national ID a citizen may list: checksum valid and ending in their certificate's 4
/// characters.
fn own_national_id(principal: &Principal, asked: &str) -> Result<NationalId, Rejection> {
    let Principal::Citizen(citizen) = principal else {
        return Err(Rejection::new(
            Reason::CitizenRequired,
            "the MyData API is open to citizen certificates, each for their own national ID",
        ));
    };
    let id: NationalId = asked.trim().to_ascii_uppercase().parse().map_err(|error| {
        Rejection::new(
            Reason::SubjectInvalid,
            format!("national_id is not a valid national ID: {error}"),
        )
    })?;
    if !id
        .last4()
        .eq_ignore_ascii_case(citizen.national_id_last4.trim())
    {
        return Err(Rejection::new(
            Reason::IdentityMismatch,
            "national_id does not end in the 4 characters of your certificate; you may list only your own",
        ));
    }
    Ok(id)
}

/// An exchange as the citizen sees it, before proofs are attached.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub(crate) entries: Vec<MyDataEntry>,
    pub(crate) withheld: u32,
    pub(crate) withheld_until: Option<Timestamp>,
}

/// Groups the subject's records by exchange and withholds those whose release date is after
/// `now`. Names (agency, purpose), legal basis and citation come from `policy`; the release
/// date and the released data classes come from the records themselves, so a later policy
/// cannot reveal a deferred access early.
pub(crate) fn list(found: Vec<Found>, policy: &Policy, now: Timestamp) -> Listing {
    let mut by_exchange: BTreeMap<String, Vec<Found>> = BTreeMap::new();
    let mut order = Vec::new();
    for item in found {
        let Some(exchange) = item.record.exchange() else {
            continue;
        };
        let id = exchange.exchange_id.clone();
        if !by_exchange.contains_key(&id) {
            order.push(id.clone());
        }
        by_exchange.entry(id).or_default().push(item);
    }
    let mut listing = Listing::default();
    for id in order {
        let Some(records) = by_exchange.remove(&id) else {
            continue;
        };
        let disclosed_from = records.iter().find_map(|f| match &f.record {
            AuditRecord::ExchangeIntent(intent) => intent.permit.disclosed_from,
            _ => None,
        });
        if let Some(from) = disclosed_from
            && from > now
        {
            listing.withheld += 1;
            listing.withheld_until = Some(listing.withheld_until.map_or(from, |t| t.max(from)));
            continue;
        }
        listing.entries.push(entry(id, &records, policy));
    }
    listing
}

fn entry(exchange_id: String, records: &[Found], policy: &Policy) -> MyDataEntry {
    let mut entry = MyDataEntry {
        exchange_id,
        ..MyDataEntry::default()
    };
    if let Some(first) = records.first() {
        entry.at = first.record.at().to_string();
        if let Some(exchange) = first.record.exchange() {
            entry.method = exchange.service.clone();
            if let Some(leg) = &exchange.recipe {
                entry.recipe = leg.recipe.clone();
                entry.recipe_leg = leg.leg.clone();
                entry.parent_exchange_id = leg.parent_exchange_id.clone();
            }
            if let Some(code) = exchange.client.agency() {
                entry.agency_code = code.to_owned();
                entry.agency_name = policy
                    .agencies()
                    .by_code(code)
                    .map(|a| a.name.clone())
                    .unwrap_or_default();
            }
            if let Some(purpose) = &exchange.purpose {
                entry.purpose_code = purpose.clone();
                if let Some(known) = policy.purposes().resolve(purpose) {
                    entry.purpose_code = known.code.to_string();
                    entry.purpose_name = known.name.clone();
                }
            }
        }
    }
    for found in records {
        match &found.record {
            AuditRecord::ExchangeIntent(intent) => {
                entry.rule_id = intent.permit.rule_id.clone();
                if let Some(rule) = policy.rule(&intent.permit.rule_id) {
                    entry.legal_basis = rule.legal_basis.to_string();
                    entry.citation = rule.citation.clone().unwrap_or_default();
                }
            }
            AuditRecord::ExchangeCompletion(completion) => {
                entry.data_classes = completion.released.clone();
                entry.allowed = completion.outcome.code == 0;
                entry.reason = completion.outcome.reason.clone().unwrap_or_default();
            }
            AuditRecord::Denial(denial) => {
                entry.allowed = false;
                entry.reason = denial
                    .outcome
                    .reason
                    .clone()
                    .unwrap_or_else(|| denial.outcome.code_name().to_owned());
            }
            // The run about the citizen: which one-stop service, and that it was answered; what
            // each step released is in the steps' own entries.
            AuditRecord::RecipeRun(run) => {
                entry.recipe = run.recipe.clone();
                entry.allowed = run.outcome.code == 0;
            }
            AuditRecord::ConsentChange(_) | AuditRecord::PolicyChange(_) => {}
        }
        entry.records.push(ProvenRecord {
            index: found.index,
            record_json: found
                .record
                .encode()
                .map(|json| String::from_utf8_lossy(&json).into_owned())
                .unwrap_or_default(),
            hashes: Vec::new(),
        });
    }
    entry
}

#[tonic::async_trait]
impl MyData for MyDataApi {
    async fn list_exchanges(
        &self,
        request: Request<ListExchangesRequest>,
    ) -> Result<Response<ListExchangesResponse>, Status> {
        let caller = crate::api::caller(&request)?;
        let principal = caller.principal.clone().map_err(Rejection::into_status)?;
        let id = own_national_id(&principal, &request.get_ref().national_id)
            .map_err(Rejection::into_status)?;
        let log = self.auditor.log();
        // The checkpoint first: every record it covers is on disk, and later ones are left
        // for the next listing (their proofs would need a newer checkpoint).
        let checkpoint = log.checkpoint().await.map_err(unavailable)?;
        let tree_size = checkpoint.checkpoint().size;
        let query = tongdao_audit::Query {
            subject: Some(self.auditor.pseudonym(id.as_str())),
            until: None,
            ..tongdao_audit::Query::default()
        };
        let dir = self.auditor.dir().to_owned();
        let found = tokio::task::spawn_blocking(move || -> Result<Vec<Found>, String> {
            let mut all = Vec::new();
            for found in tongdao_audit::search(&dir, &query).map_err(|e| e.to_string())? {
                let found = found.map_err(|e| e.to_string())?;
                if found.index < tree_size {
                    all.push(found);
                }
            }
            Ok(all)
        })
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
        let mut listing = list(found, &self.policy.load(), Timestamp::now());
        for entry in &mut listing.entries {
            for record in &mut entry.records {
                let hashes = log
                    .inclusion_proof(record.index, tree_size)
                    .map_err(unavailable)?;
                record.hashes = hashes.iter().map(|h| h.0.to_vec()).collect();
            }
        }
        Ok(Response::new(ListExchangesResponse {
            entries: listing.entries,
            checkpoint: String::from_utf8_lossy(checkpoint.as_bytes()).into_owned(),
            tree_size,
            withheld: listing.withheld,
            withheld_until: listing
                .withheld_until
                .map(|t| t.to_string())
                .unwrap_or_default(),
        }))
    }
}

#[cfg(test)]
mod tests;
