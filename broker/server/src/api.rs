//! The broker's own API (`tongdao.v1`): the directory.

use std::{collections::BTreeMap, sync::Arc};

use tongdao_core::{Principal, Reason, Rejection};
use tongdao_schemas::{
    descriptors,
    v1::{
        AccessGrant, AgencyPrincipal, CitizenPrincipal, ListRecipesRequest, ListRecipesResponse,
        ListServicesRequest, ListServicesResponse, MethodEntry, RecipeEntry, RecipeInputEntry,
        RecipeLegEntry, ServiceEntry, WhoAmIRequest, WhoAmIResponse, directory_server::Directory,
        who_am_i_response,
    },
};
use tonic::{Request, Response, Status};

use crate::{catalogue::Catalogue, exchange::Caller, policy::PolicyHandle};

/// `tongdao.v1.Directory`.
#[derive(Debug, Clone)]
pub(crate) struct DirectoryApi {
    pub(crate) catalogue: Arc<Catalogue>,
    pub(crate) policy: PolicyHandle,
    /// The consent artefacts' verifier key (`<name>+<id>+<base64>`); empty without consent.
    pub(crate) consent_verifier_key: String,
}

/// The caller of a request to the broker's own API (set once per connection by the acceptor).
pub(crate) fn caller<T>(request: &Request<T>) -> Result<Arc<Caller>, Status> {
    request
        .extensions()
        .get::<Arc<Caller>>()
        .cloned()
        .ok_or_else(|| {
            Rejection::new(Reason::InternalError, "connection identity missing").into_status()
        })
}

#[tonic::async_trait]
impl Directory for DirectoryApi {
    async fn list_services(
        &self,
        request: Request<ListServicesRequest>,
    ) -> Result<Response<ListServicesResponse>, Status> {
        // Only identified principals may browse the bus.
        let principal = caller(&request)?
            .principal
            .clone()
            .map_err(Rejection::into_status)?;
        let policy = self.policy.load();
        // The caller's own permissions, by method path.
        let mut grants: BTreeMap<&str, Vec<AccessGrant>> = BTreeMap::new();
        let own = match &principal {
            Principal::Agency(agency) => policy.grants_for(&agency.code),
            // A citizen sees what they may download of their own records.
            Principal::Citizen(_) => policy.self_access_grants(),
        };
        for grant in own {
            grants
                .entry(grant.service.method.as_str())
                .or_default()
                .push(AccessGrant {
                    rule_id: grant.rule.id.clone(),
                    purposes: grant.purposes.iter().map(ToString::to_string).collect(),
                    fields: grant.fields.paths().to_vec(),
                    consent_required: grant.rule.consent_required,
                    legal_basis: grant.rule.legal_basis.as_str().to_owned(),
                });
        }
        let mut services: BTreeMap<String, ServiceEntry> = BTreeMap::new();
        for method in self.catalogue.methods() {
            let entry = services
                .entry(method.service.full_name().to_owned())
                .or_insert_with(|| {
                    let provider =
                        descriptors::provider_agency(&method.service).unwrap_or_default();
                    let provider_name = policy
                        .agencies()
                        .by_code(&provider)
                        .map(|a| a.name.clone())
                        .unwrap_or_default();
                    ServiceEntry {
                        name: method.service.full_name().to_owned(),
                        provider_agency: provider,
                        provider_name,
                        methods: Vec::new(),
                        available: method.route.as_ref().is_some_and(|route| route.available()),
                    }
                });
            let output = method.descriptor.output();
            entry.methods.push(MethodEntry {
                path: method.path.clone(),
                input_type: method.descriptor.input().full_name().to_owned(),
                output_type: output.full_name().to_owned(),
                data_classes: descriptors::response_data_classes(&output)
                    .into_iter()
                    .map(|class| descriptors::data_class_code(class).to_owned())
                    .collect(),
                grants: grants.remove(method.path.as_str()).unwrap_or_default(),
            });
        }
        let mut services: Vec<ServiceEntry> = services.into_values().collect();
        for service in &mut services {
            service.methods.sort_by(|a, b| a.path.cmp(&b.path));
        }
        Ok(Response::new(ListServicesResponse {
            services,
            policy_version: policy.version().to_owned(),
            consent_verifier_key: self.consent_verifier_key.clone(),
        }))
    }

    async fn list_recipes(
        &self,
        request: Request<ListRecipesRequest>,
    ) -> Result<Response<ListRecipesResponse>, Status> {
        let principal = caller(&request)?
            .principal
            .clone()
            .map_err(Rejection::into_status)?;
        let policy = self.policy.load();
        // Recipes are run by agencies' one-stop services; a citizen has none to run.
        let recipes = match &principal {
            Principal::Agency(agency) => policy
                .recipes_for(&agency.code)
                .into_iter()
                .map(recipe_entry)
                .collect(),
            Principal::Citizen(_) => Vec::new(),
        };
        Ok(Response::new(ListRecipesResponse {
            recipes,
            policy_version: policy.version().to_owned(),
        }))
    }

    async fn who_am_i(
        &self,
        request: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        let caller = caller(&request)?;
        let principal = match caller.principal.clone().map_err(Rejection::into_status)? {
            Principal::Agency(agency) => who_am_i_response::Principal::Agency(AgencyPrincipal {
                agency_code: agency.code,
                name: agency.name,
                government_oid: agency.government_oid,
                unit: agency.unit.unwrap_or_default(),
            }),
            Principal::Citizen(citizen) => {
                who_am_i_response::Principal::Citizen(CitizenPrincipal {
                    name: citizen.name,
                    national_id_last4: citizen.national_id_last4,
                })
            }
        };
        Ok(Response::new(WhoAmIResponse {
            principal: Some(principal),
            certificate_serial: caller.certificate.serial.clone(),
            certificate_issuer: caller.certificate.issuer.clone(),
            certificate_not_after: Some(prost_types::Timestamp {
                seconds: caller.certificate.not_after_unix,
                nanos: 0,
            }),
        }))
    }
}

/// A recipe as the directory shows it: enough for a portal to build the call and to tell the
/// citizen what will be asked of whom.
fn recipe_entry(recipe: &tongdao_policy::Recipe) -> RecipeEntry {
    RecipeEntry {
        name: recipe.name.clone(),
        title: recipe.title.clone(),
        description: recipe.description.clone().unwrap_or_default(),
        purpose: recipe.purpose.to_string(),
        consent_subject: recipe.consent_subject.clone().unwrap_or_default(),
        inputs: recipe
            .inputs
            .iter()
            .map(|input| RecipeInputEntry {
                name: input.name.clone(),
                kind: input.kind.as_str().to_owned(),
                description: input.description.clone().unwrap_or_default(),
            })
            .collect(),
        legs: recipe
            .legs
            .iter()
            .map(|leg| RecipeLegEntry {
                name: leg.name.clone(),
                service: leg.service.clone(),
                fields: leg.fields.paths().to_vec(),
                depends_on: leg
                    .depends_on
                    .iter()
                    .filter_map(|&i| recipe.legs.get(i).map(|l| l.name.clone()))
                    .collect(),
                for_each: leg.fans_out(),
                consent: leg.consent,
                timeout_ms: u32::try_from(leg.timeout.as_millis()).unwrap_or(u32::MAX),
            })
            .collect(),
    }
}
