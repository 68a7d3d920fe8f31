//! The service registry: each gRPC method on the bus, the agency that provides it and the PDPA
//! data classes its response can carry (what §17 asks agencies to publish).
//!
//! Every entry is checked against the compiled schemas: the method must exist in a domain
//! package, the provider must be registered (and match the schema's `provider_agency` option),
//! and the listed classes must be exactly those the response type can carry.

use std::collections::{BTreeSet, HashMap};

use prost_reflect::{DescriptorPool, MessageDescriptor, MethodDescriptor};
use tongdao_schemas::descriptors;
use tongdao_schemas::v1::DataClass;

use crate::codes::parse_data_class;
use crate::registry::AgencyRegistry;
use crate::toml_read::{FileCx, Table, parse_document};

/// One service method on the bus.
#[derive(Debug, Clone)]
pub struct ServiceEntry {
    /// Full method path, e.g. `/tongdao.household.v1.HouseholdRegistry/GetTranscript`.
    pub method: String,
    /// Agency code (機關代碼) of the provider.
    pub provider: String,
    /// Data classes the response can carry, in code order.
    pub classes: Vec<DataClass>,
    /// What the service is for, as NDC describes it.
    pub description: Option<String>,
    descriptor: MethodDescriptor,
}

impl ServiceEntry {
    /// The method's descriptor.
    pub fn descriptor(&self) -> &MethodDescriptor {
        &self.descriptor
    }

    /// The response message type, which field masks are compiled against.
    pub fn output(&self) -> MessageDescriptor {
        self.descriptor.output()
    }

    /// Whether the response can carry personal data, in which case every call must declare a
    /// purpose.
    pub fn carries_personal_data(&self) -> bool {
        !self.classes.is_empty()
    }
}

/// Registered services by method path.
#[derive(Debug, Clone, Default)]
pub struct ServiceRegistry {
    entries: Vec<ServiceEntry>,
    by_method: HashMap<String, usize>,
}

impl ServiceRegistry {
    /// `agencies` is `None` when the agency registry itself failed, so that its problems are not
    /// repeated here as unknown providers.
    pub(crate) fn read(
        cx: &mut FileCx,
        text: &str,
        pool: &DescriptorPool,
        agencies: Option<&AgencyRegistry>,
    ) -> Self {
        let mut registry = Self::default();
        let Some(root) = parse_document(cx, text) else {
            return registry;
        };
        let root = Table::root(cx, &root, "services.toml", &["service"]);
        let allowed = ["method", "provider", "classes", "description"];
        for table in root.tables(cx, "service", "service", &allowed) {
            let method = table.req_str(cx, "method");
            let provider = table.req_str(cx, "provider");
            let classes = table.req_str_list(cx, "classes");
            let description = table.opt_str(cx, "description");
            let Some(method) = method else { continue };
            let Some(descriptor) = resolve_method(cx, pool, method.get_ref(), &method.span())
            else {
                continue;
            };
            if registry.by_method.contains_key(*method.get_ref()) {
                cx.error(
                    &method.span(),
                    format!("service {} is registered twice", method.get_ref()),
                );
                continue;
            }
            let provider_code = provider.as_ref().map(|p| (*p.get_ref()).to_owned());
            if let Some(provider) = &provider {
                if let Some(agencies) = agencies
                    && agencies.by_code(provider.get_ref()).is_none()
                {
                    cx.error(
                        &provider.span(),
                        format!("provider {} is not in agencies.toml", provider.get_ref()),
                    );
                }
                if let Some(declared) = descriptors::provider_agency(descriptor.parent_service())
                    && declared != *provider.get_ref()
                {
                    cx.error(
                        &provider.span(),
                        format!(
                            "provider {} differs from the schema's provider_agency {declared}",
                            provider.get_ref()
                        ),
                    );
                }
            }
            let returnable = descriptors::response_data_classes(&descriptor.output());
            let mut listed = BTreeSet::new();
            let errors_before = cx.errors.len();
            for class in classes.iter().flatten() {
                let Some(parsed) = parse_data_class(class.get_ref()) else {
                    cx.error(
                        &class.span(),
                        format!(
                            "{:?} is not a data class code (e.g. \"C001\")",
                            class.get_ref()
                        ),
                    );
                    continue;
                };
                if !returnable.contains(&parsed) {
                    cx.error(
                        &class.span(),
                        format!(
                            "{} cannot return {}: no field of {} carries it",
                            method.get_ref(),
                            descriptors::data_class_code(parsed),
                            descriptor.output().full_name()
                        ),
                    );
                } else if !listed.insert(parsed) {
                    cx.error(
                        &class.span(),
                        format!("{} is listed twice", descriptors::data_class_code(parsed)),
                    );
                }
            }
            if classes.is_some() {
                let missing: Vec<_> = returnable
                    .difference(&listed)
                    .map(|c| descriptors::data_class_code(*c))
                    .collect();
                // Only when every listed class was readable: otherwise a typo would be reported
                // twice, once as unreadable and once as missing.
                if !missing.is_empty() && cx.errors.len() == errors_before {
                    let span = table.get("classes").map_or(method.span(), |v| v.span());
                    cx.error(
                        &span,
                        format!(
                            "{} can return {} too; list every class its response carries",
                            method.get_ref(),
                            missing.join(", ")
                        ),
                    );
                }
            }
            let Some(provider) = provider_code else {
                continue;
            };
            registry
                .by_method
                .insert((*method.get_ref()).to_owned(), registry.entries.len());
            registry.entries.push(ServiceEntry {
                method: (*method.get_ref()).to_owned(),
                provider,
                classes: listed.into_iter().collect(),
                description: description.map(|d| (*d.get_ref()).to_owned()),
                descriptor,
            });
        }
        registry
    }

    /// The service with this full method path.
    pub fn get(&self, method: &str) -> Option<&ServiceEntry> {
        self.by_method.get(method).map(|&i| &self.entries[i])
    }

    pub(crate) fn index_of(&self, method: &str) -> Option<usize> {
        self.by_method.get(method).copied()
    }

    /// Every registered service, in file order.
    pub fn entries(&self) -> &[ServiceEntry] {
        &self.entries
    }
}

/// `/package.Service/Method` → the method in `pool`, reporting why not.
fn resolve_method(
    cx: &mut FileCx,
    pool: &DescriptorPool,
    path: &str,
    span: &crate::toml_read::Span,
) -> Option<MethodDescriptor> {
    let Some((service, method)) = path.strip_prefix('/').and_then(|rest| rest.split_once('/'))
    else {
        cx.error(
            span,
            format!("{path:?} is not a method path like /tongdao.land.v1.LandRegistry/GetParcel"),
        );
        return None;
    };
    let Some(service_descriptor) = pool.get_service_by_name(service) else {
        cx.error(
            span,
            format!("unknown service {service} (not in the schemas)"),
        );
        return None;
    };
    if !descriptors::is_domain_package(service_descriptor.package_name()) {
        cx.error(
            span,
            format!("{service} is not a domain service; the broker's own API needs no rules"),
        );
        return None;
    }
    let found = service_descriptor.methods().find(|m| m.name() == method);
    if found.is_none() {
        cx.error(span, format!("unknown method {method} of {service}"));
    }
    found
}

#[cfg(test)]
mod tests;
